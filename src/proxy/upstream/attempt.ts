// One upstream attempt of a Forwarder: HTTP/1.1 on the endpoint's keep-alive pool (h1.ts; pending
// until it holds a connected socket: max_pending_requests) or h2c on the shared session; per-try
// timeout; reports the response or the failure to its Forwarder, which decides on retries.
import http from 'node:http';
import http2 from 'node:http2';
import { responseHeaders } from '../hcm/headers.js';
import type { Headers } from '../router/headers.js';
import type { Endpoint } from './endpoint.js';
import type { Forwarder } from './forward.js';
import { type H1Conn, type H1Exchange, type H1Pool, requestHead } from './h1.js';

function grpcStatusOf(h: http.IncomingHttpHeaders): number {
  const g = h['grpc-status'];
  return typeof g === 'string' ? Number(g) || 0 : 0;
}

export class Attempt implements H1Exchange {
  private done = false;
  private perTry: NodeJS.Timeout | undefined;
  private upstream: http2.ClientHttp2Stream | undefined;
  /** HTTP/1.1: the pool this attempt waits in or the connection it uses. */
  private pool: H1Pool | null = null;
  private conn: H1Conn | null = null;
  private reused = false;
  private chunked = false;
  private waitingDrain = false;
  private unstream: (() => void) | null = null;
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
    this.unstream?.();
    if (this.conn) {
      this.conn.abandon(this);
      this.conn = null;
    } else this.pool?.cancel(this);
  }

  private onPerTryTimeout(): void {
    this.perTry = undefined;
    if (this.done) return;
    this.f.cluster.stats.upstream_rq_per_try_timeout++;
    this.abort();
    this.f.onFailure(this, null, false, true);
  }

  private sendBody(w: http2.ClientHttp2Stream): void {
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
    const cluster = f.cluster;
    this.pending = true;
    cluster.pendingActive++;
    cluster.stats.upstream_rq_pending_total++;
    cluster.stats.upstream_rq_pending_active++;
    this.pool = this.ep.h1Pool();
    // A retry after a stale keep-alive connection goes out on a new connection.
    this.pool.request(this, f.s.view.method === 'HEAD', this.staleRetries > 0);
  }

  /** H1Exchange: a connection is ours; write the request (and its body). */
  h1Assigned(conn: H1Conn, reused: boolean): void {
    const f = this.f;
    const s = f.s;
    const cluster = f.cluster;
    this.conn = conn;
    this.reused = reused;
    const perConn = cluster.policy.maxRequestsPerConnection;
    const last = perConn > 0 && conn.requests >= perConn;
    if (last) {
      cluster.stats.upstream_cx_max_requests++;
      conn.reusable = false;
    }
    let head: { head: string; chunked: boolean };
    try {
      head = requestHead(s.view.method, f.u.path, s.requestHeaders, s.hasBody, last || cluster.policy.maxRequestsPerConnection === 1);
    } catch (e) {
      // Invalid header bytes for HTTP/1.1 (possible from an h2 downstream, or a filter).
      conn.abandon(this);
      this.conn = null;
      this.release();
      f.localReply(400, `bad request: ${e instanceof Error ? e.message : String(e)}`, 'DPE');
      return;
    }
    if (conn.sock.connecting) conn.sock.once('connect', () => this.endPending());
    else this.endPending();
    this.chunked = head.chunked;
    if (!s.hasBody) {
      conn.write(head.head);
      conn.endRequest();
      return;
    }
    conn.write(head.head);
    const b = f.body;
    if (b) for (const c of b.chunks) this.writeBody(c);
    if (b && b.complete) this.endBody();
    else this.streamBody();
  }

  private writeBody(c: Buffer): boolean {
    const conn = this.conn!;
    if (!this.chunked) return conn.write(c);
    if (c.length === 0) return true;
    conn.write(`${c.length.toString(16)}\r\n`);
    conn.write(c);
    return conn.write('\r\n');
  }

  private endBody(): void {
    if (this.chunked) this.conn!.write('0\r\n\r\n');
    this.conn!.endRequest();
  }

  /** The rest of the downstream body, with backpressure both ways. */
  private streamBody(): void {
    const req = this.f.s.req;
    const conn = this.conn!;
    const onData = (c: Buffer | string): void => {
      if (this.conn !== conn) return;
      if (!this.writeBody(typeof c === 'string' ? Buffer.from(c) : c)) {
        req.pause();
        conn.sock.once('drain', () => req.resume());
      }
    };
    const unstream = (): void => {
      this.unstream = null;
      req.off('data', onData);
      req.off('end', onEnd);
    };
    const onEnd = (): void => {
      if (this.conn === conn) this.endBody();
      unstream();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    this.unstream = unstream;
    req.resume();
  }

  /** H1Exchange: the final response head. */
  h1Head(status: number, headers: http.IncomingHttpHeaders): void {
    const f = this.f;
    const s = f.s;
    const conn = this.conn!;
    if (this.done) {
      conn.discard(this);
      return;
    }
    if (!f.onResponse(this, status, grpcStatusOf(headers), headers['x-envoy-overloaded'] !== undefined)) {
      this.release();
      this.unstream?.();
      conn.discard(this);
      this.conn = null;
      return;
    }
    this.stopPerTryTimer();
    const h = responseHeaders(headers);
    f.decorate(h, this.upstreamStart);
    s.encodeHeaders(status, h);
  }

  /** H1Exchange: a body piece for downstream; false when downstream needs time (resumed on drain). */
  h1Body(chunk: Buffer): boolean {
    const res = this.f.s.res as http.ServerResponse;
    if (res.write(chunk)) return true;
    const conn = this.conn;
    if (conn && !this.waitingDrain) {
      this.waitingDrain = true;
      res.once('drain', () => {
        this.waitingDrain = false;
        conn.resume();
      });
    }
    return false;
  }

  /** H1Exchange: the response is complete. */
  h1Complete(last: Buffer | null, trailers: http.IncomingHttpHeaders | null): void {
    const f = this.f;
    const res = f.s.res as http.ServerResponse;
    this.conn = null;
    this.unstream?.();
    if (trailers !== null) res.addTrailers(trailers);
    if (last !== null) res.end(last);
    else res.end();
    this.release();
    f.finish();
  }

  /** H1Exchange: no (complete) response. */
  h1Error(err: Error, reused: boolean): void {
    this.conn = null;
    this.unstream?.();
    if (this.done) return;
    if (this.f.s.headersSent && this.f.current === this) {
      // The response had started: the downstream cannot be completed.
      this.release();
      this.f.finish();
      this.f.s.addFlag('UR');
      this.f.s.resetDownstream();
      return;
    }
    this.onError(err, reused);
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
