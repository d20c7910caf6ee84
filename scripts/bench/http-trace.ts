// Every HTTP request and connection undici makes in this process, from its diagnostics channels
// (@kubernetes/client-node 2.x sends through undici): when each request was created, written to a
// socket, answered and finished, and when each connection was opened and with which protocol. The
// benchmarks run Lifeboat's worker in their own process, so this sees the activities' Kubernetes
// traffic without any change to the activities.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { TLSSocket } from 'node:tls';
import { median } from './history.js';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable to history event times. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export interface TracedRequest {
  origin: string;
  method: string;
  path: string;
  createdMs: number;
  /** Headers written to a socket: the time from creation is the wait for a connection (TCP and TLS included). */
  sentMs?: number;
  /** Response headers arrived: from sent, the server's time plus the network. */
  headersMs?: number;
  /** Body read to the end, or the request failed. */
  endMs?: number;
  status?: number;
  error?: string;
}

export interface TracedConnection {
  origin: string;
  beforeMs: number;
  connectedMs?: number;
  /** ALPN result: 'h2' or 'http/1.1' (false without TLS). */
  protocol?: string | false;
  error?: string;
}

interface UndiciRequest {
  origin?: unknown;
  method?: string;
  path?: string;
}
interface ConnectParams {
  protocol?: string;
  hostname?: string;
  host?: string;
  port?: string | number;
}
const originOf = (p: ConnectParams) => `${p.protocol ?? ''}//${p.hostname ?? p.host ?? ''}${p.port ? `:${String(p.port)}` : ''}`;

export interface HttpTrace {
  requests: TracedRequest[];
  connections: TracedConnection[];
  stop(): void;
}

/** Starts recording; stop() unsubscribes. */
export function traceHttp(): HttpTrace {
  const requests: TracedRequest[] = [];
  const connections: TracedConnection[] = [];
  const byRequest = new WeakMap<object, TracedRequest>();
  const connecting: TracedConnection[] = [];
  const handlers: [string, (message: unknown) => void][] = [
    [
      'undici:request:create',
      (m) => {
        const { request } = m as { request: UndiciRequest };
        const r: TracedRequest = {
          origin: String(request.origin),
          method: request.method ?? '?',
          path: request.path ?? '',
          createdMs: nowMs(),
        };
        byRequest.set(request, r);
        requests.push(r);
      },
    ],
    [
      'undici:client:sendHeaders',
      (m) => {
        const r = byRequest.get((m as { request: object }).request);
        if (r) r.sentMs = nowMs();
      },
    ],
    [
      'undici:request:headers',
      (m) => {
        const { request, response } = m as { request: object; response: { statusCode: number } };
        const r = byRequest.get(request);
        if (r) {
          r.headersMs = nowMs();
          r.status = response.statusCode;
        }
      },
    ],
    [
      'undici:request:trailers',
      (m) => {
        const r = byRequest.get((m as { request: object }).request);
        if (r) r.endMs = nowMs();
      },
    ],
    [
      'undici:request:error',
      (m) => {
        const { request, error } = m as { request: object; error: Error };
        const r = byRequest.get(request);
        if (r) {
          r.endMs = nowMs();
          r.error = error.message;
        }
      },
    ],
    [
      'undici:client:beforeConnect',
      (m) => {
        const c: TracedConnection = { origin: originOf((m as { connectParams: ConnectParams }).connectParams), beforeMs: nowMs() };
        connecting.push(c);
        connections.push(c);
      },
    ],
    [
      'undici:client:connected',
      (m) => {
        const { connectParams, socket } = m as { connectParams: ConnectParams; socket: TLSSocket };
        const origin = originOf(connectParams);
        const c = connecting.find((x) => x.origin === origin);
        if (!c) return;
        connecting.splice(connecting.indexOf(c), 1);
        c.connectedMs = nowMs();
        c.protocol = socket.alpnProtocol ?? false;
      },
    ],
    [
      'undici:client:connectError',
      (m) => {
        const { connectParams, error } = m as { connectParams: ConnectParams; error: Error };
        const c = connecting.find((x) => x.origin === originOf(connectParams));
        if (!c) return;
        connecting.splice(connecting.indexOf(c), 1);
        c.connectedMs = nowMs();
        c.error = error.message;
      },
    ],
  ];
  for (const [name, handler] of handlers) subscribe(name, handler);
  return {
    requests,
    connections,
    stop: () => {
      for (const [name, handler] of handlers) unsubscribe(name, handler);
    },
  };
}

export interface WindowStats {
  requests: number;
  byMethod: Record<string, number>;
  /** New connections (each a TCP and TLS handshake) opened in the window. */
  connections: number;
  protocols: Record<string, number>;
  /** Most requests in flight at once (created, not yet finished). */
  maxInFlight: number;
  /** Mean requests in flight over the window: how much of the allowed concurrency was used. */
  meanInFlight: number;
  /** Medians in ms: whole request; waiting for a connection (created → headers sent); server and network (sent → response headers); connection set-up. */
  requestMs: number;
  waitForConnectionMs: number;
  serverMs: number;
  connectMs: number;
  /** The window's length in ms. */
  windowMs: number;
  /** ms of the window with at least one request in flight: the rest is the client's own work (JS, heartbeats) or waiting. */
  busyMs: number;
}

/** What happened on the wire between `fromMs` and `toMs`, for requests to `origin` (any when omitted). */
export function windowStats(trace: HttpTrace, fromMs: number, toMs: number, origin?: string): WindowStats {
  const inside = (t: number) => t >= fromMs && t <= toMs;
  const matches = (o: string) => !origin || o === origin;
  const reqs = trace.requests.filter((r) => matches(r.origin) && inside(r.createdMs));
  const conns = trace.connections.filter((c) => matches(c.origin) && inside(c.beforeMs));
  const byMethod: Record<string, number> = {};
  for (const r of reqs) byMethod[r.method] = (byMethod[r.method] ?? 0) + 1;
  const protocols: Record<string, number> = {};
  for (const c of conns) protocols[String(c.protocol ?? 'none')] = (protocols[String(c.protocol ?? 'none')] ?? 0) + 1;
  // Sweep over starts and ends for the peak, and integrate for the mean.
  const edges = reqs
    .flatMap(
      (r) =>
        [
          [r.createdMs, 1],
          [r.endMs ?? toMs, -1],
        ] as const,
    )
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let inFlight = 0;
  let maxInFlight = 0;
  let area = 0;
  let busy = 0;
  let last = fromMs;
  for (const [t, d] of edges) {
    area += inFlight * (Math.min(t, toMs) - last);
    if (inFlight > 0) busy += Math.min(t, toMs) - last;
    last = Math.min(t, toMs);
    inFlight += d;
    maxInFlight = Math.max(maxInFlight, inFlight);
  }
  const ms = (xs: number[]) => (xs.length ? Number(median(xs).toFixed(1)) : 0);
  return {
    requests: reqs.length,
    byMethod,
    connections: conns.length,
    protocols,
    maxInFlight,
    meanInFlight: Number((area / Math.max(1, toMs - fromMs)).toFixed(2)),
    requestMs: ms(reqs.filter((r) => r.endMs).map((r) => r.endMs! - r.createdMs)),
    waitForConnectionMs: ms(reqs.filter((r) => r.sentMs).map((r) => r.sentMs! - r.createdMs)),
    serverMs: ms(reqs.filter((r) => r.sentMs && r.headersMs).map((r) => r.headersMs! - r.sentMs!)),
    connectMs: ms(conns.filter((c) => c.connectedMs).map((c) => c.connectedMs! - c.beforeMs)),
    windowMs: Number((toMs - fromMs).toFixed(1)),
    busyMs: Number(busy.toFixed(1)),
  };
}
