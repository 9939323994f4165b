/** Progress lines of the bench go to stderr; stdout stays free for data. */
export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
