// Sends one request upstream over HTTP/1.1 (keep-alive agent) or h2c (shared session) and streams the
// response back with backpressure (pipe). A Forwarder owns one downstream request: route timeout,
// retries (retry_on, per-try timeout, jittered backoff, previous-host avoidance, max_retries),
// circuit breakers (max_requests, max_pending_requests -> 503 UO), outlier detection reports and the
// keep-alive race (a reset on a reused connection before any response byte is retried on a fresh one).
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Stream } from '../hcm/stream.js';
import { responseHeaders } from '../hcm/headers.js';
import type { Headers } from '../router/headers.js';
import type { CompiledRoute } from '../router/compile.js';
import { RETRY_5XX, RETRY_GATEWAY, backoffMs, retriableReset, retriableStatus } from '../router/retry.js';
import type { Cluster } from './cluster.js';
import { type Endpoint, isConnectFailure, sessionConnectFailed } from './endpoint.js';
import { BODY_BUFFER_LIMIT, type RequestBody, bufferBody } from './body.js';
import { mirrorRequest } from './mirror.js';
import { Outcome } from './outlier.js';

export const UF_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
export const UC_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
export const UO_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';
export const UT_BODY = 'upstream request timeout';

/** Per-request upstream settings decided by the router. */
export interface UpstreamRequest {
  readonly path: string;
  readonly authority: string;
  readonly suppressEnvoyHeaders: boolean;
  /** The route's hash_policy value (consistent-hash load balancers). */
  readonly hash: number | undefined;
  /** A generated hash cookie to set on the response. */
  readonly setCookie: string | undefined;
}

/** A reset on a reused keep-alive connection before any response byte: retried this many times. */
const STALE_CONNECTION_RETRIES = 3;
const REQUESTS_ON_SOCKET = Symbol('weft.requestsOnSocket');

function grpcStatusOf(h: http.IncomingHttpHeaders): number {
  const g = h['grpc-status'];
  return typeof g === 'string' ? Number(g) || 0 : 0;
}

class Forwarder {
  retriesLeft: number;
  attempts = 0;
  current: Attempt | null = null;
  body: RequestBody | null = null;
  done = false;
  private timer: NodeJS.Timeout | undefined;
  private backoff: NodeJS.Timeout | undefined;
  private tried: Endpoint[] | null = null;

  constructor(
    readonly s: Stream,
    readonly cluster: Cluster,
    readonly route: CompiledRoute,
    readonly u: UpstreamRequest,
  ) {
    this.retriesLeft = route.retry.numRetries;
    s.onAbort = () => this.abort();
    if (route.timeoutMs > 0) this.timer = setTimeout(() => this.onGlobalTimeout(), route.timeoutMs);
  }

  start(ep: Endpoint): void {
    const s = this.s;
    const r = this.route;
    if (s.hasBody && (r.retry.numRetries > 0 || r.mirrors.length > 0)) {
      bufferBody(s, BODY_BUFFER_LIMIT, (b) => {
        this.body = b;
        // Envoy: a body larger than the buffer limit disables retries for this request.
        if (!b.complete) this.retriesLeft = 0;
        this.begin(ep);
      });
    } else this.begin(ep);
  }

  private begin(ep: Endpoint): void {
    if (this.done) return;
    const r = this.route;
    if (r.mirrors.length > 0) mirrorRequest(this.s, r.mirrors, this.u.path, this.u.authority, this.s.hasBody ? this.body : null, r.timeoutMs);
    this.launch(ep, false, 0);
  }

  /** Whether this request's body can be sent again. */
  private replayable(): boolean {
    return !this.s.hasBody || (this.body !== null && this.body.complete);
  }

  launch(ep: Endpoint, isRetry: boolean, staleRetries: number): void {
    this.attempts++;
    if (this.route.retry.avoidPrevious) (this.tried ??= []).push(ep);
    if (this.route.attemptCountToUpstream) this.s.requestHeaders['x-envoy-attempt-count'] = String(this.attempts);
    this.current = new Attempt(this, ep, isRetry, staleRetries);
    this.current.start();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.current = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.backoff) clearTimeout(this.backoff);
  }

  private abort(): void {
    const a = this.current;
    this.finish();
    a?.abort();
  }

  private onGlobalTimeout(): void {
    this.timer = undefined;
    const a = this.current;
    this.cluster.stats.upstream_rq_timeout++;
    if (a) {
      a.abort();
      this.cluster.outlier?.report(a.ep, Outcome.Timeout, 504);
    }
    this.localReply(504, UT_BODY, 'UT');
  }

  localReply(status: number, body: string, flag: string, headers?: Headers): void {
    this.finish();
    this.s.sendLocalReply(status, body, flag, headers);
  }

  overflow(): void {
    this.cluster.stats.upstream_rq_pending_overflow++;
    this.localReply(503, UO_BODY, 'UO', { 'x-envoy-overloaded': 'true' });
  }

  /** Tries another attempt after a retriable outcome; false when no retry is possible. */
  retry(from: Endpoint): boolean {
    if (this.retriesLeft <= 0) {
      if (this.route.retry.numRetries > 0) this.cluster.stats.upstream_rq_retry_limit_exceeded++;
      return false;
    }
    if (!this.replayable()) return false;
    const c = this.cluster;
    if (c.retriesActive >= c.policy.maxRetries) {
      c.stats.upstream_rq_retry_overflow++;
      return false;
    }
    this.retriesLeft--;
    c.stats.upstream_rq_retry++;
    c.stats.upstream_rq_retry_backoff_exponential++;
    c.retriesActive++;
    this.current = null;
    const delay = backoffMs(this.route.retry, this.attempts);
    this.backoff = setTimeout(() => {
      this.backoff = undefined;
      c.retriesActive--;
      if (this.done) return;
      const ep = this.pickForRetry(from);
      if (!ep) {
        c.stats.upstream_cx_none_healthy++;
        this.localReply(503, 'no healthy upstream', 'UH');
        return;
      }
      this.launch(ep, true, 0);
    }, delay);
    return true;
  }

  private pickForRetry(from: Endpoint): Endpoint | null {
    const c = this.cluster;
    if (c.type === 'ORIGINAL_DST') return from;
    const p = this.route.retry;
    const tried = this.tried;
    let e = c.picker.pick(this.u.hash);
    for (let i = 1; i < p.hostSelectionAttempts && e && tried && tried.includes(e); i++) e = c.picker.pick(this.u.hash === undefined ? undefined : (Math.random() * 2 ** 32) >>> 0);
    return e;
  }

  /** A response arrived: retried, or sent downstream. Returns whether it is being sent. */
  onResponse(a: Attempt, status: number, grpcStatus: number, overloaded: boolean): boolean {
    const c = this.cluster;
    c.stats.recordStatus(status);
    c.outlier?.report(a.ep, Outcome.Response, status);
    if (!overloaded && retriableStatus(this.route.retry, status, grpcStatus) && this.retry(a.ep)) return false;
    if (this.attempts > 1) c.stats.upstream_rq_retry_success++;
    return true;
  }

  /** No response: connect failure, reset, per-try timeout. Retries, or answers 503/504. */
  onFailure(a: Attempt, err: unknown, reused: boolean, perTryTimeout: boolean): void {
    const s = this.s;
    const connectFail = !perTryTimeout && (isConnectFailure(err) || isConnectFailure((err as { cause?: unknown } | null)?.cause) || (a.session !== undefined && sessionConnectFailed(a.session)));
    if (s.headersSent) {
      this.finish();
      s.addFlag('UR');
      s.resetDownstream();
      return;
    }
    // Keep-alive race: the upstream closed an idle connection as we reused it. Same host, not a retry.
    if (reused && !connectFail && !perTryTimeout && this.replayable() && a.staleRetries < STALE_CONNECTION_RETRIES) {
      this.cluster.stats.upstream_rq_retry++;
      this.attempts--;
      this.launch(a.ep, a.isRetry, a.staleRetries + 1);
      return;
    }
    this.cluster.outlier?.report(a.ep, connectFail ? Outcome.ConnectFailure : perTryTimeout ? Outcome.Timeout : Outcome.LocalReset, 503);
    const p = this.route.retry;
    const refused = (err as { code?: unknown } | null)?.code === 'ERR_HTTP2_STREAM_ERROR' && String((err as Error).message).endsWith(' 7');
    const retriable = perTryTimeout ? (p.on & (RETRY_5XX | RETRY_GATEWAY)) !== 0 : retriableReset(p, connectFail, refused);
    if (retriable && this.retry(a.ep)) return;
    s.env.log.debug?.(`upstream ${this.cluster.name} ${a.ep.key} failed: ${perTryTimeout ? 'per-try timeout' : String((err as { code?: unknown } | null)?.code ?? err)}`);
    if (perTryTimeout) {
      this.cluster.stats.recordStatus(504);
      this.localReply(504, UT_BODY, 'UT');
    } else {
      this.cluster.stats.recordStatus(503);
      if (connectFail) this.localReply(503, UF_BODY, 'UF');
      else this.localReply(503, UC_BODY, 'UC');
    }
  }

  /** Headers Envoy adds to the response it forwards. */
  decorate(h: Headers, upstreamStart: number): void {
    const u = this.u;
    if (!u.suppressEnvoyHeaders) h['x-envoy-upstream-service-time'] = String(Math.round(this.s.env.clock() - upstreamStart));
    if (this.route.attemptCountToDownstream) h['x-envoy-attempt-count'] = String(this.attempts);
    if (u.setCookie) {
      const cur = h['set-cookie'];
      h['set-cookie'] = cur === undefined ? [u.setCookie] : Array.isArray(cur) ? [...cur, u.setCookie] : [cur, u.setCookie];
    }
  }
}

class Attempt {
  private done = false;
  private perTry: NodeJS.Timeout | undefined;
  private upstream: http.ClientRequest | http2.ClientHttp2Stream | undefined;
  private upstreamStart = 0;
  private pending = false;
  session: http2.ClientHttp2Session | undefined;

  constructor(
    readonly f: Forwarder,
    readonly ep: Endpoint,
    readonly isRetry: boolean,
    readonly staleRetries: number,
  ) {}

  start(): void {
    const f = this.f;
    const s = f.s;
    const cluster = f.cluster;
    const st = cluster.stats;
    const p = cluster.policy;
    s.upstreamCluster = cluster.name;
    s.upstreamHost = this.ep.key;
    if (st.upstream_rq_active >= p.maxRequests) {
      f.overflow();
      return;
    }
    const proto = cluster.protocol;
    const h2 = proto === 'h2' || (proto === 'downstream' && s.req.httpVersionMajor === 2);
    if (!h2 && this.staleRetries === 0) {
      // HTTP/1.1 pool: a request waits (is pending) until it holds a connected socket.
      if (cluster.pendingActive >= p.maxPendingRequests) {
        f.overflow();
        return;
      }
      if (st.upstream_cx_active >= p.maxConnections && !this.ep.hasIdleConnection()) st.upstream_cx_overflow++;
    }
    st.upstream_rq_total++;
    st.upstream_rq_active++;
    this.ep.active++;
    this.ep.rqTotal++;
    this.upstreamStart = s.env.clock();
    const tryMs = f.route.retry.perTryTimeoutMs;
    if (tryMs > 0) this.perTry = setTimeout(() => this.onPerTryTimeout(), tryMs);
    if (h2) this.startH2();
    else this.startH1();
  }

  private release(): void {
    if (this.done) return;
    this.done = true;
    if (this.perTry) clearTimeout(this.perTry);
    this.endPending();
    this.f.cluster.stats.upstream_rq_active--;
    this.ep.active--;
  }

  /** Response headers are going downstream: the per-try timeout no longer applies. */
  private stopPerTryTimer(): void {
    if (this.perTry) clearTimeout(this.perTry);
    this.perTry = undefined;
  }

  private endPending(): void {
    if (!this.pending) return;
    this.pending = false;
    this.f.cluster.pendingActive--;
    this.f.cluster.stats.upstream_rq_pending_active--;
  }

  abort(): void {
    this.release();
    this.upstream?.destroy();
  }

  private onPerTryTimeout(): void {
    this.perTry = undefined;
    if (this.done) return;
    this.f.cluster.stats.upstream_rq_per_try_timeout++;
    this.abort();
    this.f.onFailure(this, null, false, true);
  }

  private sendBody(w: http.ClientRequest | http2.ClientHttp2Stream): void {
    const f = this.f;
    const s = f.s;
    if (!s.hasBody) {
      w.end();
      return;
    }
    const b = f.body;
    if (b) for (const c of b.chunks) w.write(c);
    if (b && b.complete) w.end();
    else s.req.pipe(w);
  }

  private startH1(): void {
    const f = this.f;
    const s = f.s;
    const cluster = f.cluster;
    const perConn = cluster.policy.maxRequestsPerConnection;
    let req: http.ClientRequest;
    try {
      req = http.request({
        agent: this.ep.httpAgent(), host: this.ep.host, port: this.ep.port,
        method: s.view.method, path: f.u.path, headers: s.requestHeaders as http.OutgoingHttpHeaders,
      });
    } catch (e) {
      // Invalid header bytes for HTTP/1.1 (possible from an h2 downstream, or a filter).
      this.release();
      f.localReply(400, `bad request: ${e instanceof Error ? e.message : String(e)}`, 'DPE');
      return;
    }
    this.upstream = req;
    this.pending = true;
    cluster.pendingActive++;
    cluster.stats.upstream_rq_pending_total++;
    cluster.stats.upstream_rq_pending_active++;
    req.on('socket', (sock: net.Socket) => {
      if (perConn > 0) {
        const n = ((sock as unknown as Record<symbol, number>)[REQUESTS_ON_SOCKET] ?? 0) + 1;
        (sock as unknown as Record<symbol, number>)[REQUESTS_ON_SOCKET] = n;
        if (n >= perConn) {
          cluster.stats.upstream_cx_max_requests++;
          req.shouldKeepAlive = false;
          req.once('response', (res) => res.once('end', () => sock.destroy()));
        }
      }
      if (sock.connecting) sock.once('connect', () => this.endPending());
      else this.endPending();
    });
    req.on('response', (ures) => this.onH1Response(ures));
    req.on('error', (err) => this.onError(err, req.reusedSocket));
    this.sendBody(req);
  }

  private onH1Response(ures: http.IncomingMessage): void {
    const f = this.f;
    const s = f.s;
    if (this.done) {
      ures.resume();
      return;
    }
    const status = ures.statusCode ?? 502;
    if (!f.onResponse(this, status, grpcStatusOf(ures.headers), ures.headers['x-envoy-overloaded'] !== undefined)) {
      this.release();
      ures.resume();
      return;
    }
    this.stopPerTryTimer();
    const h = responseHeaders(ures.headers);
    f.decorate(h, this.upstreamStart);
    s.encodeHeaders(status, h);
    const res = s.res!;
    ures.on('end', () => {
      if (ures.rawTrailers.length > 0) res.addTrailers(ures.trailers);
      this.release();
      f.finish();
    });
    ures.on('error', () => {
      this.release();
      f.finish();
      s.addFlag('UR');
      s.resetDownstream();
    });
    ures.pipe(res as NodeJS.WritableStream);
  }

  private startH2(): void {
    const f = this.f;
    const s = f.s;
    const h: http2.OutgoingHttpHeaders = { ':method': s.view.method, ':path': f.u.path, ':authority': f.u.authority, ':scheme': 'http' };
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
      if (this.done && f.current !== this) return;
      const out: Headers = {};
      for (const k in t) if (k.charCodeAt(0) !== 58) out[k] = t[k];
      s.res?.addTrailers(out);
    });
    stream.on('error', (err) => this.onError(err, false));
    stream.on('close', () => {
      if (!gotResponse && !this.done) this.onError(Object.assign(new Error(`stream reset ${stream.rstCode}`), { code: 'ERR_HTTP2_STREAM_ERROR' }), false);
      else if (f.current === this) {
        this.release();
        f.finish();
      }
    });
    if (s.hasBody) this.sendBody(stream);
  }

  private onH2Response(stream: http2.ClientHttp2Stream, rh: http2.IncomingHttpHeaders, endStream: boolean): void {
    const f = this.f;
    const s = f.s;
    if (this.done) return;
    const status = Number(rh[':status'] ?? 502);
    if (!f.onResponse(this, status, grpcStatusOf(rh), rh['x-envoy-overloaded'] !== undefined)) {
      this.release();
      stream.resume();
      return;
    }
    this.stopPerTryTimer();
    const h = responseHeaders(rh);
    f.decorate(h, this.upstreamStart);
    if (endStream && s.req.httpVersionMajor === 2) {
      s.encodeHeaders(status, h, true);
      stream.resume();
      return;
    }
    s.encodeHeaders(status, h);
    stream.pipe(s.res as NodeJS.WritableStream);
  }

  private onError(err: unknown, reused: boolean): void {
    if (this.done) return;
    this.release();
    this.f.onFailure(this, err, reused, false);
  }
}

/** Forwards the stream's request to `ep` of `cluster` under the route's timeout and retry policy. */
export function forwardHttp(s: Stream, cluster: Cluster, ep: Endpoint, route: CompiledRoute, u: UpstreamRequest): void {
  new Forwarder(s, cluster, route, u).start(ep);
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
