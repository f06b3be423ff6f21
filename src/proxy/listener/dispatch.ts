// Connection and request dispatch for one bound listener: protocol sniffing (h2c preface vs
// HTTP/1.x), the HCM, the virtualOutbound HTTP proxy (per-port hand-off), tcp_proxy and CONNECT.
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyEnv } from '../env.js';
import { type CompiledHcm, HCM_TYPE, type RouteTable, compileHcm } from '../hcm/config.js';
import { type DownstreamRequest, type DownstreamResponse, Stream } from '../hcm/stream.js';
import { ROUTER_TYPE } from '../filters/router/config.js';
import { pickEndpoint, splitAuthority } from '../filters/router/filter.js';
import { splice } from '../upstream/forward.js';
import { DEFAULT_TCP_IDLE_TIMEOUT_MS, armTcpIdleTimeout } from './tcp-idle.js';
import type { CompiledListener, FilterChain } from './compile.js';
import type { NetworkRbac } from '../network-rbac/filter.js';
import { applyXfcc, chainOf } from '../tls/index.js';
import { LeanH1Conn, type LeanHost } from './h1-server.js';

/** WEFT_H1_LEAN=0 serves every HTTP/1.x connection with node:http (for comparisons and as a way out). */
const LEAN_H1 = process.env.WEFT_H1_LEAN !== '0';

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

/** What the virtualOutbound proxy needs from the listener table. */
export interface OutboundTable {
  /** The `0.0.0.0_<port>` (bind_to_port: false) listener for a destination port. */
  portListener(port: number): CompiledListener | undefined;
}

/** The HCMs used when no per-port listener matches: passthrough, or 404 NR. */
export function fallbackHcms(routes: RouteTable, env: ProxyEnv): { passthrough: CompiledHcm; none: CompiledHcm } {
  const router = [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }];
  const passthrough = compileHcm({
    '@type': HCM_TYPE, stat_prefix: 'outbound_passthrough', http_filters: router,
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    route_config: { name: 'allow_any', virtual_hosts: [{ name: 'allow_any', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: '0s' } }] }] },
  }, routes, env.stats, 'virtualOutbound passthrough');
  const none = compileHcm({ '@type': HCM_TYPE, stat_prefix: 'outbound_no_route', http_filters: router, route_config: { name: 'none', virtual_hosts: [] } }, routes, env.stats, 'virtualOutbound');
  return { passthrough, none };
}

/** Splits an absolute-form request target (http://host:port/path) into authority and path. */
export function splitTarget(url: string, hostHeader: string | undefined): { authority: string; path: string } {
  if (url.length > 7 && (url.charCodeAt(0) === 104 || url.charCodeAt(0) === 72) && /^https?:\/\//i.test(url)) {
    const start = url.indexOf('//') + 2;
    let end = start;
    while (end < url.length && url.charCodeAt(end) !== 47 && url.charCodeAt(end) !== 63) end++;
    const rest = url.slice(end);
    return { authority: url.slice(start, end), path: rest === '' ? '/' : rest.charCodeAt(0) === 63 ? `/${rest}` : rest };
  }
  return { authority: hostHeader ?? '', path: url };
}

export class ListenerDispatch {
  readonly h1: http.Server;
  readonly h2: http2.Http2Server;
  /** Connections on the lean HTTP/1.1 path (h1-server.ts); node:http's `h1` takes anything unusual. */
  private readonly lean = new Set<LeanH1Conn>();
  private readonly leanHost: LeanHost;

  constructor(
    public current: CompiledListener,
    private readonly env: ProxyEnv,
    private readonly table: OutboundTable,
    private readonly fallback: { passthrough: CompiledHcm; none: CompiledHcm },
  ) {
    const maxHeaderSize = current.chain?.kind === 'http' ? current.chain.hcm.maxRequestHeadersBytes : 60 * 1024;
    const h1Fallback = (sock: net.Socket): void => {
      this.h1.emit('connection', sock);
    };
    this.leanHost = {
      maxHeaderSize,
      onRequest: (req, res) => this.onRequest(req, res, null, null),
      fallback: h1Fallback,
      detach: (c) => this.lean.delete(c),
    };
    this.h1 = http.createServer({ maxHeaderSize, insecureHTTPParser: false, keepAliveTimeout: 60_000, requestTimeout: 300_000, headersTimeout: 30_000 });
    this.h1.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res, null, null));
    this.h1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onRequest(req, null, socket, head));
    this.h1.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onConnect(req, socket, head));
    this.h1.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    this.h2 = http2.createServer({ maxSessionMemory: 64 });
    this.h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.onRequest(req, res, null, null));
    this.h2.on('sessionError', () => {});
    this.h2.on('session', (session: http2.ServerHttp2Session) => session.on('error', () => {}));
    this.h2.on('stream', (stream: http2.ServerHttp2Stream) => stream.on('error', () => {}));
  }

  /** A new downstream connection on the bound socket. */
  onConnection(sock: net.Socket): void {
    const l = this.current;
    const ls = l.stats;
    ls.downstream_cx_total++;
    ls.downstream_cx_active++;
    this.env.stats.server.total_connections++;
    sock.on('error', () => {});
    sock.once('close', () => {
      ls.downstream_cx_active--;
      ls.downstream_cx_destroy++;
    });
    // mTLS (src/proxy/tls): terminate TLS, or pass plaintext when PERMISSIVE, then serve as usual.
    if (l.tls) l.tls.ctx.accept(sock, l.tls.plaintext, (s) => this.serve(s, l), (s) => this.serve(s, l));
    else if (l.sni) l.sni.accept(sock, (s, c) => this.serve(s, l, c), (s, c) => this.serve(s, l, c)); // gateway chains by SNI
    else this.serve(sock, l);
  }

  private serve(sock: net.Socket, l: CompiledListener, chain = l.chain): void {
    const ls = l.stats;
    if (chain?.rbac && !this.rbacAllows(sock, chain.rbac)) return;
    if (!l.useOriginalDst && chain?.kind === 'tcp') {
      this.tcpProxy(sock, chain, null);
      return;
    }
    if (!l.useOriginalDst && chain?.kind !== 'http') {
      ls.no_filter_chain_match++;
      sock.destroy();
      return;
    }
    this.sniff(sock);
  }

  /** The chain's network RBAC filters in order: a denied connection is closed without a byte. */
  private rbacAllows(sock: net.Socket, filters: readonly NetworkRbac[]): boolean {
    for (const f of filters) {
      if (!f.check(sock, this.env.stats, this.env.log).allowed) {
        sock.destroy();
        return false;
      }
    }
    return true;
  }

  /** h2c prior knowledge starts with "PRI * HTTP/2.0"; everything else is HTTP/1.x. */
  private sniff(sock: net.Socket): void {
    let buf: Buffer | null = null;
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      if (buf.length < 3 && buf.toString('latin1') === 'PRI'.slice(0, buf.length)) return;
      sock.removeListener('data', onData);
      sock.pause();
      sock.unshift(buf);
      const isH2 = buf.length >= 3 && buf[0] === 0x50 && buf[1] === 0x52 && buf[2] === 0x49;
      // The h2 session reads the unshifted bytes itself; resuming would hand them to nobody.
      if (isH2) {
        // The preface proves HTTP/2 (prior knowledge, as Envoy's codec sniffs it). node:http2 drops a
        // TLS socket that negotiated no ALPN as an unknown protocol, so say what the preface said.
        const ts = sock as net.Socket & { encrypted?: boolean; alpnProtocol?: string | false };
        if (ts.encrypted && !ts.alpnProtocol) ts.alpnProtocol = 'h2';
        this.h2.emit('connection', sock);
      } else if (!LEAN_H1) {
        this.h1.emit('connection', sock);
        sock.resume();
      } else {
        this.lean.add(new LeanH1Conn(sock, this.leanHost));
        sock.resume();
      }
    };
    sock.on('data', onData);
  }

  private onRequest(req: DownstreamRequest, res: DownstreamResponse | null, socket: Duplex | null, head: Buffer | null): void {
    if (socket) socket.on('error', () => {});
    const l = this.current;
    const h2 = req.httpVersionMajor === 2;
    const host = h2 ? (req.headers[':authority'] as string | undefined) ?? req.headers.host : req.headers.host;
    const target = splitTarget(req.url ?? '/', host);
    let hcm: CompiledHcm;
    // SNI listeners: the connection's chain; mTLS listeners: the TLS chain for a TLS connection (on a
    // PERMISSIVE port its HCM differs from the plaintext one, e.g. in what it does with XFCC).
    const own = l.sni ? chainOf(req.socket) ?? l.chain : l.tls && (req.socket as { encrypted?: boolean }).encrypted === true ? l.tls.chain : l.chain;
    if (l.useOriginalDst) {
      const port = splitAuthority(target.authority, 80).port;
      const pl = this.table.portListener(port);
      if (pl?.chain?.kind === 'http') hcm = pl.chain.hcm;
      else hcm = this.env.clusters.slot(PASSTHROUGH_CLUSTER).current ? this.fallback.passthrough : this.fallback.none;
    } else if (own?.kind === 'http') hcm = own.hcm;
    else {
      res?.destroy();
      socket?.destroy();
      return;
    }
    if (socket) {
      const up = String(req.headers.upgrade ?? '').toLowerCase();
      if (!hcm.upgradeTypes.has(up)) {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
    }
    let stream: Stream | undefined;
    try {
      // Cheap when there is nothing to do: a plaintext request without the header.
      if (l.tls || l.sni || req.headers['x-forwarded-client-cert'] !== undefined) applyXfcc(req.headers, req.socket, hcm.forwardClientCert);
      stream = new Stream(hcm, this.env, req, res, socket, head, target);
      if (req.rawHeaders.length > hcm.maxHeadersCount * 2) {
        stream.sendLocalReply(431, 'Request Header Fields Too Large', 'DPE');
        return;
      }
      stream.run();
    } catch (e) {
      // Whatever a request carries (e.g. header bytes h2 allows and HTTP/1.1 does not) must not crash the proxy.
      this.env.log.warn(`request failed: ${e instanceof Error ? e.message : String(e)}`);
      if (stream && !stream.headersSent) stream.sendLocalReply(400, 'bad request', 'DPE');
      else if (res && !res.headersSent) res.writeHead(400).end();
      else {
        res?.destroy();
        socket?.destroy();
      }
    }
  }

  /** CONNECT host:port: a TCP tunnel to the port listener's tcp_proxy cluster, or the passthrough. */
  private onConnect(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const authority = req.url ?? '';
    const { host, port } = splitAuthority(authority, 443);
    const pl = this.current.useOriginalDst ? this.table.portListener(port) : undefined;
    let chain: Extract<FilterChain, { kind: 'tcp' }> | undefined;
    if (pl?.chain?.kind === 'tcp') chain = pl.chain;
    else if (this.env.clusters.slot(PASSTHROUGH_CLUSTER).current) {
      chain = { kind: 'tcp', statPrefix: PASSTHROUGH_CLUSTER, targets: [{ cluster: this.env.clusters.slot(PASSTHROUGH_CLUSTER), weight: 1 }], total: 1, idleTimeoutMs: DEFAULT_TCP_IDLE_TIMEOUT_MS };
    }
    if (!chain || !host) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.tcpProxy(socket, chain, head, authority);
  }

  private tcpProxy(down: Duplex, chain: Extract<FilterChain, { kind: 'tcp' }>, head: Buffer | null, connectAuthority?: string): void {
    let r = Math.random() * chain.total;
    let t = chain.targets[chain.targets.length - 1];
    for (const x of chain.targets) {
      if (r < x.weight) {
        t = x;
        break;
      }
      r -= x.weight;
    }
    const cluster = t.cluster.current;
    const local = (this.current.address === '0.0.0.0' ? '127.0.0.1' : this.current.address) + ':' + String(this.current.port);
    const ep = cluster ? pickEndpoint(cluster, connectAuthority ?? local) : null;
    if (!cluster || !ep) {
      if (connectAuthority) down.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      else down.destroy();
      return;
    }
    // Keep what the client sends before the upstream is up (a sniffed socket is already flowing).
    const early: Buffer[] = head && head.length ? [head] : [];
    const hold = (c: Buffer): void => {
      early.push(c);
    };
    down.on('data', hold);
    const up = ep.connect({ host: ep.host, port: ep.port });
    up.on('error', () => {
      if (connectAuthority && up.connecting) down.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      else down.destroy();
    });
    up.once('connect', () => {
      down.removeListener('data', hold);
      if (connectAuthority) down.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      splice(down, up, early.length ? Buffer.concat(early) : null, null);
      armTcpIdleTimeout(down, up, chain.idleTimeoutMs);
    });
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const chain = this.current.chain;
    if (chain?.kind === 'http') chain.hcm.stats.downstream_cx_protocol_error++;
    // A bad request pipelined behind a good one: the good one's response goes out first (as Envoy does).
    // (Only when the in-flight request itself was read whole: an error in its own body ends it.)
    const inFlight = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
    if (inFlight && !inFlight.writableFinished && inFlight.req?.complete && socket.writable && err.code !== 'ECONNRESET') {
      inFlight.once('finish', () => this.onClientError(err, socket));
      inFlight.once('close', () => { if (!inFlight.writableFinished) socket.destroy(); });
      return;
    }
    if (!socket.writable || err.code === 'ECONNRESET' || (inFlight && !inFlight.writableFinished && inFlight.headersSent)) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = http.STATUS_CODES[status] ?? '';
    socket.end(`HTTP/1.1 ${status} ${body}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
  }

  /** Stops keep-alive reuse of idle connections (used while draining). */
  closeIdle(): void {
    this.h1.closeIdleConnections();
    for (const c of [...this.lean]) c.closeIfIdle();
  }
}
