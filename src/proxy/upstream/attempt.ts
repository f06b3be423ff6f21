// One upstream attempt of a Forwarder: HTTP/1.1 through the endpoint's keep-alive agent (pending
// until it holds a connected socket: max_pending_requests) or h2c on the shared session; per-try
// timeout; reports the response or the failure to its Forwarder, which decides on retries.
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { responseHeaders } from '../hcm/headers.js';
import type { Headers } from '../router/headers.js';
import type { Endpoint } from './endpoint.js';
import type { Forwarder } from './forward.js';

const REQUESTS_ON_SOCKET = Symbol('weft.requestsOnSocket');

function grpcStatusOf(h: http.IncomingHttpHeaders): number {
  const g = h['grpc-status'];
  return typeof g === 'string' ? Number(g) || 0 : 0;
}

export class Attempt {
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
