import { isIPv4, isIPv6 } from 'node:net';

/** Whether `host` can only be reached from this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (!isIPv6(h)) return false;
  // Expand "::" so "0:0:0:0:0:0:0:1" and "::1" compare equal, and catch IPv4-mapped ::ffff:127.x.
  const mapped = /^[0:]*:ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return (mapped[1] ?? '').startsWith('127.');
  return expand(h) === '0000:0000:0000:0000:0000:0000:0000:0001';
}

function expand(ipv6: string): string {
  const [head = '', tail] = ipv6.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.padStart(4, '0')).join(':');
}
