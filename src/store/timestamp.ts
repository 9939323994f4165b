// Date, then optionally a time with a zone; seconds and fractions optional.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|([+-])(\d{2}):(\d{2})))?$/;

/**
 * Milliseconds since the epoch of an ISO 8601 timestamp, or undefined when it is not one. A
 * date-time must carry its zone (`Z` or `±hh:mm`): without one, JavaScript reads it as the
 * server's local time. Out-of-range fields (Feb 30, 24:00) are refused, not rolled over as
 * Date.parse does.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [
    ,
    year,
    month,
    day,
    hour = '0',
    minute = '0',
    second = '0',
    ,
    ,
    offsetHours = '0',
    offsetMinutes = '0',
  ] = m;
  const y = Number(year);
  const mo = Number(month);
  if (mo < 1 || mo > 12 || Number(day) < 1 || Number(day) > daysIn(y, mo)) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  if (Number(offsetHours) > 23 || Number(offsetMinutes) > 59) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// By hand: Date.UTC maps years 0-99 to 1900-1999.
function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS[month - 1] ?? 0);
}
