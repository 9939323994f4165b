// A fault-injecting HTTP proxy in front of the real S3 server: it forwards every request and, when
// a rule matches, answers an error, delays, drops the connection or cuts the body short. It also
// logs every request, so tests can count what a client sent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do to a matching request. */
export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly code: string } // 500, 503 SlowDown, ...
  | { readonly kind: 'delay'; readonly ms: number } // a slow server: wait, then forward
  | { readonly kind: 'drop' } // close the connection without an answer
  | { readonly kind: 'cut'; readonly afterBytes: number } // forward, then drop the connection mid-body
  | { readonly kind: 'short'; readonly bytes: number }; // forward only `bytes` of the body, Content-Length to match

/** A request as the proxy saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  /** What the proxy did: 'forward' or the fault's kind. */
  readonly action: string;
}

interface Rule {
  readonly match: (method: string, url: string) => boolean;
  readonly fault: Fault;
  remaining: number;
}

/** A running proxy. */
export interface FaultProxy {
  readonly endpoint: string;
  readonly seen: SeenRequest[];
  /** Applies `fault` to the next `times` requests `match` accepts. */
  inject(match: (method: string, url: string) => boolean, fault: Fault, times?: number): void;
  /** Drops the rules not used up yet. */
  clear(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) that forwards to `target` (http://host:port). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const rules: Rule[] = [];
  const seen: SeenRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const agent = new http.Agent({ keepAlive: false });
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rule = rules.find((r) => r.remaining > 0 && r.match(method, url));
    if (rule) rule.remaining--;
    const fault = rule?.fault;
    seen.push({ method, url, action: fault?.kind ?? 'forward' });
    if (fault?.kind === 'status') {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml', connection: 'close' });
        res.end(`<?xml version="1.0"?><Error><Code>${fault.code}</Code><Message>injected</Message></Error>`);
      });
      return;
    }
    if (fault?.kind === 'drop') {
      req.resume();
      req.on('end', () => req.socket.destroy());
      return;
    }
    const forward = (): void => {
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          agent,
          path: url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const headers = { ...answer.headers };
          if (fault?.kind === 'short') {
            headers['content-length'] = String(
              Math.min(fault.bytes, Number(answer.headers['content-length'] ?? fault.bytes)),
            );
          }
          res.writeHead(answer.statusCode ?? 502, headers);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (fault?.kind === 'cut' && sent + chunk.length > fault.afterBytes) {
              res.write(chunk.subarray(0, Math.max(0, fault.afterBytes - sent)));
              answer.destroy();
              res.socket?.destroy();
              return;
            }
            if (fault?.kind === 'short') {
              const room = Math.max(0, fault.bytes - sent);
              if (room > 0) res.write(chunk.subarray(0, room));
              sent += chunk.length;
              return;
            }
            sent += chunk.length;
            res.write(chunk);
          });
          answer.on('end', () => res.end());
        },
      );
      out.on('error', () => res.socket?.destroy());
      req.pipe(out);
    };
    if (fault?.kind === 'delay') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        forward();
      }, fault.ms);
      timers.add(timer);
    } else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    inject(match, fault, times = 1) {
      rules.push({ match, fault, remaining: times });
    },
    clear() {
      rules.length = 0;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
