// Sends one request to one endpoint over HTTP/1.1 (keep-alive agent) or h2c (shared session) and
// streams the response back with backpressure (pipe). Errors before response headers become
// Envoy-style local replies; a reset on a reused keep-alive connection is retried on a fresh one.
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Stream } from '../hcm/stream.js';
import { responseHeaders } from '../hcm/headers.js';
import type { Headers } from '../router/headers.js';
import type { Cluster } from './cluster.js';
import { type Endpoint, isConnectFailure, sessionConnectFailed } from './endpoint.js';

export const UF_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
export const UC_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
export const UT_BODY = 'upstream request timeout';

/** Per-request upstream settings decided by the router. */
export interface UpstreamRequest {
  readonly path: string;
  readonly authority: string;
  readonly suppressEnvoyHeaders: boolean;
  retriesLeft: number;
  readonly retryOn: readonly string[];
  readonly retryStatus: (status: number) => boolean;
  /** clock() time by which the whole request must have a response (0: none). */
  readonly deadline: number;
  /** Picks an endpoint for a retry, avoiding `avoid` when it can (null: none). */
  readonly repick: (avoid: Endpoint) => Endpoint | null;
}

/** A reset on a reused keep-alive connection before any response byte: retried this many times. */
const STALE_CONNECTION_RETRIES = 3;

function errorCode(err: unknown): string {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'string' ? c : '';
}

class Attempt {
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private upstream: http.ClientRequest | http2.ClientHttp2Stream | undefined;
  private upstreamStart = 0;
  private session: http2.ClientHttp2Session | undefined;

  constructor(
    readonly s: Stream,
    readonly cluster: Cluster,
    readonly ep: Endpoint,
    readonly u: UpstreamRequest,
    readonly staleRetries: number,
  ) {
    s.upstreamCluster = cluster.name;
    s.upstreamHost = ep.key;
    const st = cluster.stats;
    st.upstream_rq_total++;
    st.upstream_rq_active++;
    ep.active++;
    ep.rqTotal++;
  }

  start(): void {
    const s = this.s;
    this.upstreamStart = s.env.clock();
    s.onAbort = () => this.abort();
    if (this.u.deadline > 0) {
      this.timer = setTimeout(() => this.onTimeout(), Math.max(0, this.u.deadline - this.upstreamStart));
    }
    const proto = this.cluster.protocol;
    if (proto === 'h2' || (proto === 'downstream' && s.req.httpVersionMajor === 2)) this.startH2();
    else this.startH1();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.cluster.stats.upstream_rq_active--;
    this.ep.active--;
  }

  private abort(): void {
    this.finish();
    this.upstream?.destroy();
  }

  private onTimeout(): void {
    this.cluster.stats.upstream_rq_timeout++;
    this.finish();
    this.upstream?.destroy();
    this.s.sendLocalReply(504, UT_BODY, 'UT');
  }

  private serviceTime(h: Headers): void {
    if (!this.u.suppressEnvoyHeaders) h['x-envoy-upstream-service-time'] = String(Math.round(this.s.env.clock() - this.upstreamStart));
  }

  private startH1(): void {
    const s = this.s;
    let req: http.ClientRequest;
    try {
      req = http.request({
        agent: this.ep.httpAgent(), host: this.ep.host, port: this.ep.port,
        method: s.view.method, path: this.u.path, headers: s.requestHeaders as http.OutgoingHttpHeaders,
      });
    } catch (e) {
      // Invalid header bytes for HTTP/1.1 (possible from an h2 downstream, or a filter).
      this.finish();
      s.sendLocalReply(400, `bad request: ${e instanceof Error ? e.message : String(e)}`, 'DPE');
      return;
    }
    this.upstream = req;
    req.on('response', (ures) => this.onH1Response(ures));
    req.on('error', (err) => this.onError(err, req.reusedSocket));
    if (s.hasBody) s.req.pipe(req);
    else req.end();
  }

  private onH1Response(ures: http.IncomingMessage): void {
    const s = this.s;
    const status = ures.statusCode ?? 502;
    if (this.done) {
      ures.resume();
      return;
    }
    this.cluster.stats.recordStatus(status);
    if (this.retryOnStatus(status)) {
      ures.resume();
      return;
    }
    const h = responseHeaders(ures.headers);
    this.serviceTime(h);
    s.encodeHeaders(status, h);
    const res = s.res!;
    ures.on('end', () => {
      if (ures.rawTrailers.length > 0) res.addTrailers(ures.trailers);
      this.finish();
    });
    ures.on('error', () => {
      this.finish();
      s.addFlag('UR');
      s.resetDownstream();
    });
    ures.pipe(res as NodeJS.WritableStream);
  }

  private startH2(): void {
    const s = this.s;
    const h: http2.OutgoingHttpHeaders = { ':method': s.view.method, ':path': this.u.path, ':authority': this.u.authority, ':scheme': 'http' };
    const src = s.requestHeaders;
    for (const k in src) if (k !== 'host' && src[k] !== undefined) h[k] = src[k];
    let stream: http2.ClientHttp2Stream;
    try {
      this.session = this.ep.h2Session();
      stream = this.session.request(h, { endStream: !s.hasBody });
    } catch (err) {
      this.onError(err, true);
      return;
    }
    this.upstream = stream;
    let gotResponse = false;
    stream.on('response', (rh, flags) => {
      gotResponse = true;
      this.onH2Response(stream, rh, (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    });
    stream.on('trailers', (t) => {
      const out: Headers = {};
      for (const k in t) if (k.charCodeAt(0) !== 58) out[k] = t[k];
      s.res?.addTrailers(out);
    });
    stream.on('error', (err) => this.onError(err, false));
    stream.on('close', () => {
      if (!gotResponse && !this.done) this.onError(Object.assign(new Error(`stream reset ${stream.rstCode}`), { code: 'ERR_HTTP2_STREAM_ERROR' }), false);
      else this.finish();
    });
    if (s.hasBody) s.req.pipe(stream);
  }

  private onH2Response(stream: http2.ClientHttp2Stream, rh: http2.IncomingHttpHeaders, endStream: boolean): void {
    const s = this.s;
    if (this.done) return;
    const status = Number(rh[':status'] ?? 502);
    this.cluster.stats.recordStatus(status);
    if (this.retryOnStatus(status)) {
      stream.resume();
      return;
    }
    const h = responseHeaders(rh);
    this.serviceTime(h);
    if (endStream && s.req.httpVersionMajor === 2) {
      s.encodeHeaders(status, h, true);
      stream.resume();
      return;
    }
    s.encodeHeaders(status, h);
    stream.pipe(s.res as NodeJS.WritableStream);
  }

  /** retry_on 5xx / gateway-error / retriable-status-codes: drop this response and try another endpoint. */
  private retryOnStatus(status: number): boolean {
    const u = this.u;
    if (u.retriesLeft <= 0 || this.s.hasBody || !u.retryStatus(status)) return false;
    const next = u.repick(this.ep);
    if (!next) return false;
    u.retriesLeft--;
    this.finish();
    this.cluster.stats.upstream_rq_retry++;
    new Attempt(this.s, this.cluster, next, u, 0).start();
    return true;
  }

  private onError(err: unknown, reused: boolean): void {
    const s = this.s;
    if (this.done) return;
    this.finish();
    if (s.headersSent) {
      s.addFlag('UR');
      s.resetDownstream();
      return;
    }
    const connectFail = isConnectFailure(err) || isConnectFailure((err as { cause?: unknown }).cause) || (this.session !== undefined && sessionConnectFailed(this.session));
    // Keep-alive race: the upstream closed an idle connection as we reused it.
    if (reused && !s.hasBody && !connectFail && this.staleRetries < STALE_CONNECTION_RETRIES) {
      this.cluster.stats.upstream_rq_retry++;
      new Attempt(s, this.cluster, this.ep, this.u, this.staleRetries + 1).start();
      return;
    }
    const u = this.u;
    if (u.retriesLeft > 0 && !s.hasBody && (connectFail ? u.retryOn.includes('connect-failure') || u.retryOn.includes('reset') : u.retryOn.includes('reset'))) {
      u.retriesLeft--;
      const next = u.repick(this.ep);
      if (next) {
        this.cluster.stats.upstream_rq_retry++;
        new Attempt(s, this.cluster, next, u, 0).start();
        return;
      }
    }
    const code = errorCode(err);
    s.env.log.debug?.(`upstream ${this.cluster.name} ${this.ep.key} failed: ${code || String(err)}`);
    this.cluster.stats.recordStatus(503);
    if (connectFail) s.sendLocalReply(503, UF_BODY, 'UF');
    else s.sendLocalReply(503, UC_BODY, 'UC');
  }
}

/** Forwards the stream's request to `ep` of `cluster`. */
export function forwardHttp(s: Stream, cluster: Cluster, ep: Endpoint, u: UpstreamRequest): void {
  new Attempt(s, cluster, ep, u, 0).start();
}

/** Upgrade (WebSocket): relays the handshake, then splices the two sockets. */
export function forwardUpgrade(s: Stream, cluster: Cluster, ep: Endpoint, u: UpstreamRequest): void {
  const down = s.socket!;
  cluster.stats.upstream_rq_total++;
  const req = http.request({ agent: ep.httpAgent(), host: ep.host, port: ep.port, method: s.view.method, path: u.path, headers: s.requestHeaders as http.OutgoingHttpHeaders });
  s.onAbort = () => req.destroy();
  req.on('upgrade', (ures, up, head) => {
    cluster.stats.recordStatus(ures.statusCode ?? 101);
    const h = responseHeaders(ures.headers);
    h.connection = 'upgrade';
    if (ures.headers.upgrade) h.upgrade = ures.headers.upgrade;
    s.encodeHeaders(ures.statusCode ?? 101, h);
    splice(down, up, s.upgradeHead, head);
  });
  req.on('response', (ures) => {
    cluster.stats.recordStatus(ures.statusCode ?? 502);
    const h = responseHeaders(ures.headers);
    h.connection = 'close';
    s.encodeHeaders(ures.statusCode ?? 502, h);
    ures.pipe(down);
  });
  req.on('error', (err) => {
    if (s.headersSent) down.destroy();
    else s.sendLocalReply(503, isConnectFailure(err) ? UF_BODY : UC_BODY, isConnectFailure(err) ? 'UF' : 'UC');
  });
  req.end();
}

/** Two-way pipe of two sockets with error handling; either side closing closes the other. */
export function splice(down: Duplex, up: Duplex, downHead: Buffer | null, upHead: Buffer | null): void {
  const kill = (): void => {
    down.destroy();
    up.destroy();
  };
  down.on('error', kill);
  up.on('error', kill);
  down.on('close', kill);
  up.on('close', kill);
  if (upHead && upHead.length) down.write(upHead);
  if (downHead && downHead.length) up.write(downHead);
  down.pipe(up);
  up.pipe(down);
}
