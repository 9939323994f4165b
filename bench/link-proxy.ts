// A network link of a given bandwidth, for the off-site bench: a TCP proxy on 127.0.0.1 that
// forwards to a target port and paces each direction (shared by all connections, as one link is)
// to BYTES_PER_SECOND. Loopback has no bandwidth limit, so there the race is CPU alone; this shows
// what an upload or a download costs where the network is the limit.
// Usage: node link-proxy.js TARGET_PORT BYTES_PER_SECOND; prints {"port": N} on its first line.
import net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/** One direction of the link: chunks leave when a link of that bandwidth would have carried them. */
class Direction {
  #freeAt = 0;
  constructor(private readonly bytesPerMs: number) {}

  /** ms until `bytes` queued now have crossed the link. */
  delay(bytes: number): number {
    const now = performance.now();
    this.#freeAt = Math.max(now, this.#freeAt) + bytes / this.bytesPerMs;
    return this.#freeAt - now;
  }

  pace(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done: TransformCallback) => {
        const wait = this.delay(chunk.length);
        if (wait < 1) done(null, chunk);
        else setTimeout(() => done(null, chunk), wait);
      },
    });
  }
}

const [targetPort, rate] = process.argv.slice(2).map(Number);
if (!Number.isInteger(targetPort) || !(rate !== undefined && rate > 0)) {
  process.stderr.write('usage: link-proxy.js TARGET_PORT BYTES_PER_SECOND\n');
  process.exit(2);
}
const up = new Direction((rate as number) / 1000);
const down = new Direction((rate as number) / 1000);
const server = net.createServer((client) => {
  const upstream = net.connect(targetPort as number, '127.0.0.1');
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  for (const socket of [client, upstream]) {
    socket.on('error', close);
    socket.on('close', close);
  }
  client.pipe(up.pace()).pipe(upstream);
  upstream.pipe(down.pace()).pipe(client);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
