// One downstream request through the HTTP connection manager: route match, filters in order,
// response filters in reverse, local replies. Transport-agnostic over HTTP/1.1 and h2c (compat API).
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import http from 'node:http';
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { AccessLogEntry, ProxyEnv } from '../env.js';
import type { FilterStatus, HttpFilter, HttpFilterContext, RequestAuthn } from '../filters/types.js';
import type { CompiledRoute } from '../router/compile.js';
import { type HeaderOp, type Headers, applyHeaderOps, bindHeaderContext } from '../router/headers.js';
import type { RequestView } from '../router/request.js';
import type { CompiledHcm } from './config.js';
import { forwardableHeaders } from './headers.js';
import { type IdleSweep, armStreamIdleTimeout, grpcLocalReply } from './local-reply.js';
import type { LeanRequest, LeanResponse } from '../listener/h1-message.js';

export type DownstreamRequest = http.IncomingMessage | http2.Http2ServerRequest | LeanRequest;
export type DownstreamResponse = http.ServerResponse | http2.Http2ServerResponse | LeanResponse;

/** Where the request came in and which authority/path it names (absolute-form already split). */
export interface RequestTarget {
  authority: string;
  path: string;
}

export class Stream implements HttpFilterContext {
  readonly view: RequestView;
  readonly route: CompiledRoute | null;
  readonly requestHeaders: Headers;
  readonly requestId: string;
  readonly downstreamAddress: string;
  readonly startMs: number;
  readonly hasBody: boolean;
  responseFlags = '';
  responseCodeDetails = '';
  authn: RequestAuthn | null = null;
  headersSent = false;
  /** Weighted-cluster response header ops, set by the router. */
  targetResponseOps: readonly HeaderOp[] = [];
  /** Aborts the upstream side when the downstream goes away. */
  onAbort: (() => void) | null = null;
  /** The stream idle timeout's sweep and its last look at the connection's bytes (src/proxy/hcm/local-reply.ts). */
  idleSweep: IdleSweep | null = null;
  idleBytes = 0;
  idleSince = 0;
  responseStatus = 0;
  /** For the access log: the cluster and endpoint of the last upstream attempt. */
  upstreamCluster = '';
  upstreamHost = '';
  private readonly filters: HttpFilter[];
  private filterIndex = 0;

  constructor(
    readonly hcm: CompiledHcm,
    readonly env: ProxyEnv,
    readonly req: DownstreamRequest,
    /** null for an Upgrade request, whose response is written raw to `socket`. */
    readonly res: DownstreamResponse | null,
    readonly socket: Duplex | null,
    readonly upgradeHead: Buffer | null,
    target: RequestTarget,
  ) {
    this.startMs = env.clock();
    const method = req.method ?? 'GET';
    const path = target.path;
    const q = path.indexOf('?');
    this.view = { method, authority: target.authority.toLowerCase(), path, pathOnly: q < 0 ? path : path.slice(0, q), scheme: 'http', headers: req.headers };
    const h = req.headers;
    this.hasBody = req.httpVersionMajor === 2 ? !(req as http2.Http2ServerRequest).stream.endAfterHeaders : h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined;
    const upgrade = socket !== null;
    const headers = forwardableHeaders(h, upgrade);
    headers.host = target.authority;
    const remote = req.socket?.remoteAddress ?? '';
    this.downstreamAddress = remote;
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff === undefined ? remote : `${String(xff)}, ${remote}`;
    // Envoy: an edge HCM (use_remote_address) overwrites x-forwarded-proto with the downstream scheme;
    // otherwise a value from the previous hop is kept (a mesh hop over mTLS stays `http`, as in Istio).
    if (hcm.useRemoteAddress || headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = (req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http';
    let rid = headers['x-request-id'];
    if (typeof rid !== 'string' || rid === '') {
      rid = hcm.generateRequestId ? randomUUID() : '';
      if (rid) headers['x-request-id'] = rid;
    }
    this.requestId = rid;
    this.requestHeaders = headers;
    const rc = hcm.routes.current;
    this.route = rc ? rc.route(this.view) : null;
    if (this.route?.formatsRequestHeaders) bindHeaderContext(headers, this);
    armStreamIdleTimeout(this);
    const entries = hcm.filters;
    this.filters = new Array<HttpFilter>(entries.length);
    for (let i = 0; i < entries.length; i++) this.filters[i] = entries[i].create();
    const stats = hcm.stats;
    stats.downstream_rq_total++;
    stats.downstream_rq_active++;
    if (req.httpVersionMajor === 2) stats.downstream_rq_http2_total++;
    else stats.downstream_rq_http1_total++;
    // The lean response calls closed() itself, first, as its first 'close' listener would run; others
    // emit 'close' once (on, not once: no wrapper per request).
    if (res !== null && (res as LeanResponse).closeHook === null) (res as LeanResponse).closeHook = this;
    else {
      const closer: EventEmitter | null = res ?? socket;
      closer?.on('close', () => this.closed());
    }
  }

  /** The downstream response (or upgraded socket) closed: the stream is over. */
  closed(): void {
    if (this.idleSweep !== null) this.idleSweep.delete(this);
    this.hcm.stats.downstream_rq_active--;
    const abort = this.onAbort;
    this.onAbort = null;
    if (abort) abort();
    const log = this.env.accessLog;
    if (log) log(this.logEntry());
  }

  /** Runs request filters from the current index; async filters resume the chain when they settle. */
  run(): void {
    const filters = this.filters;
    while (this.filterIndex < filters.length) {
      const f = filters[this.filterIndex++];
      if (!f.onRequestHeaders) continue;
      let st: FilterStatus | Promise<FilterStatus>;
      try {
        st = f.onRequestHeaders(this);
      } catch (e) {
        this.env.log.error(`http filter failed: ${e instanceof Error ? e.message : String(e)}`);
        this.sendLocalReply(500, 'internal error', 'DPE');
        return;
      }
      if (st === 'continue') continue;
      if (st === 'stop') return;
      st.then(
        (r) => (r === 'continue' ? this.run() : undefined),
        (e: unknown) => {
          this.env.log.error(`http filter failed: ${e instanceof Error ? e.message : String(e)}`);
          this.sendLocalReply(500, 'internal error', 'DPE');
        },
      );
      return;
    }
  }

  logEntry(): AccessLogEntry {
    const res = this.res;
    return {
      startTime: new Date(Date.now() - (this.env.clock() - this.startMs)).toISOString(),
      method: this.view.method,
      authority: this.view.authority,
      path: this.view.path,
      protocol: this.req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${this.req.httpVersion}`,
      responseCode: this.responseStatus,
      responseFlags: this.responseFlags || '-',
      responseCodeDetails: this.responseCodeDetails || '-',
      durationMs: Math.round(this.env.clock() - this.startMs),
      upstreamCluster: this.upstreamCluster,
      upstreamHost: this.upstreamHost,
      requestId: this.requestId,
      routeName: this.route?.name ?? '',
      downstreamRemoteAddress: this.downstreamAddress,
      completed: res ? res.writableFinished : this.responseStatus !== 0,
    };
  }

  perFilterConfig(filterName: string): unknown {
    return this.route?.perFilterConfig.get(filterName);
  }

  addFlag(flag: string): void {
    this.responseFlags = this.responseFlags ? `${this.responseFlags},${flag}` : flag;
  }

  /** Response filters (reverse order), route response header ops, then the status line and headers. */
  encodeHeaders(status: number, headers: Headers, endStream = false): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.responseStatus = status;
    const filters = this.filters;
    for (let i = filters.length - 1; i >= 0; i--) filters[i].onResponseHeaders?.(this, status, headers);
    if (this.targetResponseOps.length) applyHeaderOps(headers, this.targetResponseOps, this);
    const sh = this.hcm.serverHeader;
    if (sh === 'OVERWRITE' || (sh === 'APPEND_IF_ABSENT' && headers.server === undefined)) headers.server = this.hcm.serverName;
    if (this.route && this.route.responseOps.length) applyHeaderOps(headers, this.route.responseOps, this);
    this.hcm.stats.recordStatus(status);
    const res = this.res;
    if (res) {
      if (this.env.draining && this.req.httpVersionMajor === 1) headers.connection = 'close';
      if (endStream && this.req.httpVersionMajor === 2) {
        // A headers-only h2 response (gRPC trailers-only) must be one HEADERS frame with END_STREAM.
        (res as http2.Http2ServerResponse).stream.respond({ ...headers, ':status': status }, { endStream: true });
        return;
      }
      res.writeHead(status, headers);
    } else if (this.socket) {
      this.socket.write(rawHead(status, headers));
    }
  }

  sendLocalReply(status: number, body: string, flag?: string, headers?: Headers): void {
    if (flag) this.addFlag(flag);
    if (this.headersSent) {
      this.resetDownstream();
      return;
    }
    if (grpcLocalReply(this, status, body, headers)) return;
    const h: Headers = { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), ...headers };
    if (this.socket) h.connection = 'close';
    this.encodeHeaders(status, h);
    if (this.res) (this.res as http.ServerResponse).end(this.req.method === 'HEAD' ? '' : body);
    else this.socket?.end(body);
  }

  /** The response cannot be completed: drop the downstream stream/connection. */
  resetDownstream(): void {
    if (this.res) {
      if (this.req.httpVersionMajor === 2) (this.res as http2.Http2ServerResponse).stream.close(http2Codes.NGHTTP2_INTERNAL_ERROR);
      else this.res.destroy();
    } else this.socket?.destroy();
  }
}

const http2Codes = { NGHTTP2_INTERNAL_ERROR: 2 };

export function rawHead(status: number, headers: Headers): string {
  let s = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) s += `${k}: ${x}\r\n`;
    else s += `${k}: ${v}\r\n`;
  }
  return `${s}\r\n`;
}
