import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeApp } from '../../dist/server/index.js';
import { type TestApp, testApp } from './test-app.js';

// Slow, stalled and too many clients against the real app on a real port, with short limits so
// each case ends in a second or two. Assertions are on what the client gets, never on timings.
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close().catch(() => {});
  t = undefined;
});

async function listen(http: object): Promise<{ port: number }> {
  t = await testApp({ http });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (t.app.server.address() as net.AddressInfo).port };
}

/** A raw connection: what the server sends, and a promise of the moment it closes. */
function connect(
  port: number,
): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (data += d));
    socket.on('error', () => {}); // a reset is one of the outcomes under test
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const partialPost =
  'POST /attestations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"subj';

async function healthz(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  await response.text();
  return response.status;
}

describe('slow and stalled clients', () => {
  it('a body that stalls after 6 of 100 bytes gets 408 ATS_HTTP_TIMEOUT and its connection closed', async () => {
    const { port } = await listen({ requestTimeoutMs: 1000 });
    const client = await connect(port);
    client.socket.write(partialPost);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received()).toContain('"error":"ATS_HTTP_TIMEOUT"');
    expect(t?.store.stats().attestations).toBe(0);
  });

  it('headers that never finish get 408 and the connection closed', async () => {
    const { port } = await listen({ headersTimeoutMs: 1000, requestTimeoutMs: 1000 });
    const client = await connect(port);
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // no blank line
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a connection that sends nothing is closed', async () => {
    const { port } = await listen({ headersTimeoutMs: 1000, requestTimeoutMs: 1000, idleTimeoutMs: 1000 });
    const client = await connect(port);
    await client.closed;
    expect(await healthz(port)).toBe(200);
  });

  it('past max_connections new connections are dropped, and once stalled ones time out /healthz answers', async () => {
    const { port } = await listen({ maxConnections: 4, requestTimeoutMs: 1500 });
    const stalled = await Promise.all([1, 2, 3, 4].map(() => connect(port)));
    for (const c of stalled) c.socket.write(partialPost);
    const extra = await connect(port);
    await extra.closed; // dropped by the server: it never gets a reply
    expect(extra.received()).toBe('');
    await Promise.all(stalled.map((c) => c.closed));
    expect(await healthz(port)).toBe(200);
  });
});

describe('shutdown', () => {
  it('closes idle keep-alive connections at once and a stalled request after the grace period', async () => {
    const { port } = await listen({ requestTimeoutMs: 60_000, idleTimeoutMs: 60_000 });
    const idle = await connect(port);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'); // keep-alive by default in 1.1
    await new Promise<void>((resolve) => idle.socket.once('data', () => resolve()));
    const stalled = await connect(port);
    stalled.socket.write(partialPost);
    // Without a deadline close() would wait for the stalled body for the full minute.
    await closeApp((t as TestApp).app, 500);
    await idle.closed;
    await stalled.closed;
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a request that reaches the server while it closes gets 503 ATS_HTTP_UNAVAILABLE', async () => {
    const { port } = await listen({ requestTimeoutMs: 60_000 });
    const late = await connect(port);
    late.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // headers begun: not an idle connection
    await new Promise((r) => setTimeout(r, 100));
    const closing = closeApp((t as TestApp).app, 2000);
    await new Promise((r) => setTimeout(r, 100));
    late.socket.write('\r\n');
    await late.closed;
    await closing;
    expect(late.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(late.received()).toContain('"error":"ATS_HTTP_UNAVAILABLE"');
    expect(late.received().toLowerCase()).toContain('retry-after: 1');
  });
});
