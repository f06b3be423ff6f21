// One upstream host of one cluster, with its connection pools (HTTP/1.1 keep-alive agent, h2c session).
// Endpoint objects are kept across EDS updates of the same address so counters and pools survive.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClusterStats } from '../stats.js';
import type { UpstreamTls } from '../tls/index.js';
import { type ClusterPolicy, DEFAULT_POLICY } from './policy.js';
import { H1Pool, h1ConnOf, pooledOnRead } from './h1.js';

/** A socket error we raise ourselves when connect_timeout expires. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(host: string, port: number) {
    super(`connect timeout to ${host}:${port}`);
  }
}

const CONNECT_FAILURE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRINUSE']);

/** A failure to establish the connection: a known code, or any error of the connect() call itself (e.g. "connect ECONNRESET" from a dying host). */
export function isConnectFailure(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  const code = e?.code;
  return (typeof code === 'string' && CONNECT_FAILURE_CODES.has(code)) || e?.syscall === 'connect';
}

const failedSessions = new WeakSet<http2.ClientHttp2Session>();

/** The h2 session never got its TCP connection (streams on it failed with a connect failure). */
export function sessionConnectFailed(session: http2.ClientHttp2Session): boolean {
  return failedSessions.has(session);
}

export class Endpoint {
  readonly key: string;
  weight = 1;
  priority = 0;
  healthy = true;
  healthStatus = 'HEALTHY';
  locality: Record<string, string> = {};
  /** Its locality's load_balancing_weight (locality-weighted balancing); 0 = the locality gets no traffic. */
  localityWeight = 1;
  /** When it joined its cluster (cluster clock, ms): slow start ramps its weight up from here. */
  joinedAt = 0;
  /** Requests in flight (least-request LB). */
  active = 0;
  rqTotal = 0;
  rqError = 0;
  cxActive = 0;
  cxTotal = 0;
  /** Outlier detection state: ejected now, times ejected, when, consecutive failure counters. */
  ejected = false;
  ejectionCount = 0;
  ejectedAt = 0;
  od5xx = 0;
  odGateway = 0;
  odLocal = 0;
  /** TLS origination for this endpoint (set by its cluster); null = plaintext. */
  tls: UpstreamTls | null = null;
  private agent: http.Agent | undefined;
  private h1: H1Pool | undefined;
  private h2: http2.ClientHttp2Session | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly stats: ClusterStats,
    readonly connectTimeoutMs: number,
    /** Connection limits and timeouts of the cluster (set again when the cluster is recompiled). */
    public policy: ClusterPolicy = DEFAULT_POLICY,
  ) {
    this.key = `${host}:${port}`;
  }

  /** The keep-alive agent of this endpoint (created on first use). */
  httpAgent(): http.Agent {
    if (this.agent) return this.agent;
    const p = this.policy;
    // `timeout` closes idle keep-alive connections before the server does (the keep-alive race).
    const agent = new http.Agent({
      keepAlive: p.maxRequestsPerConnection !== 1, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo', timeout: p.idleTimeoutMs,
    });
    // Envoy's max_connections counts the whole cluster's connections; a host with none may still open
    // one (so its requests are not stranded). Requests beyond it wait in the agent's queue, which the
    // router bounds by max_pending_requests.
    Object.defineProperty(agent, 'maxSockets', {
      get: () => (this.cxActive === 0 || this.stats.upstream_cx_active < this.policy.maxConnections ? Infinity : 0),
      set: () => undefined,
    });
    (agent as unknown as { createConnection: (o: net.NetConnectOpts, cb?: unknown) => Duplex }).createConnection = (o) => this.connect(o);
    this.agent = agent;
    return agent;
  }

  /**
   * The HTTP/1.1 pool of this endpoint (src/proxy/upstream/h1.ts), for forwarded requests. max_connections
   * counts the cluster's connections, as for the agent above; requests beyond wait in the pool's queue,
   * which the router bounds by max_pending_requests. The idle timeout closes keep-alive connections
   * before the server does (the keep-alive race).
   */
  h1Pool(): H1Pool {
    if (this.h1) return this.h1;
    const pool = new H1Pool({
      connect: () => this.connect({ host: this.host, port: this.port, onread: pooledOnRead() }),
      canOpen: () => this.cxActive === 0 || this.stats.upstream_cx_active < this.policy.maxConnections,
      idleTimeoutMs: () => this.policy.idleTimeoutMs,
      onIdleTimeout: () => this.stats.upstream_cx_idle_timeout++,
    });
    this.h1 = pool;
    return pool;
  }

  /** An HTTP/1.1 keep-alive connection is free for reuse now. */
  hasIdleConnection(): boolean {
    if (this.h1 && this.h1.idle > 0) return true;
    const free = this.agent?.freeSockets;
    if (!free) return false;
    for (const k in free) if ((free[k]?.length ?? 0) > 0) return true;
    return false;
  }

  /** Opens a counted TCP connection with connect_timeout. */
  connect(o: net.NetConnectOpts): net.Socket {
    const s = this.tls ? this.tls.connect(this.host, this.port, o.onread) : net.createConnection({ ...o, host: this.host, port: this.port, noDelay: true } as net.NetConnectOpts);
    const stats = this.stats;
    const p = this.policy;
    if (p.tcpKeepaliveMs > 0) s.setKeepAlive(true, p.tcpKeepaliveMs);
    if (p.maxConnectionDurationMs > 0) {
      const life = setTimeout(() => {
        stats.upstream_cx_max_duration_reached++;
        // Envoy drains: no new requests; an idle socket closes now, a busy one after its response.
        const h1 = h1ConnOf(s);
        if (h1) h1.expire();
        else if ((s as net.Socket & { _httpMessage?: unknown })._httpMessage) s.end();
        else s.destroy();
      }, p.maxConnectionDurationMs);
      life.unref();
      s.once('close', () => clearTimeout(life));
    }
    stats.upstream_cx_total++;
    stats.upstream_cx_active++;
    this.cxActive++;
    this.cxTotal++;
    const timer = setTimeout(() => s.destroy(new ConnectTimeoutError(this.host, this.port)), this.connectTimeoutMs);
    s.once('connect', () => clearTimeout(timer));
    s.once('error', (err) => {
      clearTimeout(timer);
      if (s.connecting || isConnectFailure(err)) stats.upstream_cx_connect_fail++;
    });
    s.once('close', () => {
      clearTimeout(timer);
      stats.upstream_cx_active--;
      stats.upstream_cx_destroy++;
      this.cxActive--;
    });
    return s;
  }

  /** The h2c session of this endpoint, (re)opened when absent or closing. */
  h2Session(): http2.ClientHttp2Session {
    const cur = this.h2;
    if (cur && !cur.closed && !cur.destroyed) return cur;
    let connected = false;
    const session: http2.ClientHttp2Session = http2.connect(`http://${this.key}`, {
      createConnection: () => {
        const sock = this.connect({ host: this.host, port: this.port });
        sock.once('connect', () => (connected = true));
        sock.once('error', () => {
          if (!connected) failedSessions.add(session);
        });
        return sock;
      },
    });
    session.on('error', () => {
      /* surfaced on each stream */
    });
    const drop = (): void => {
      if (this.h2 === session) this.h2 = undefined;
    };
    session.once('close', drop);
    session.once('goaway', drop);
    this.h2 = session;
    return session;
  }

  /** Closes idle connections; in-flight ones finish (used when the endpoint leaves its cluster). */
  release(): void {
    const agent = this.agent;
    this.agent = undefined;
    if (agent) {
      // http.Agent.destroy() would destroy busy sockets too (mirrors, upgrades, ext_authz in flight).
      // Idle ones close now; a busy one closes when its request is done (no free slot to return to).
      agent.maxFreeSockets = 0;
      for (const list of Object.values(agent.freeSockets)) for (const sock of list ?? []) sock.destroy();
    }
    this.h1?.close();
    this.h1 = undefined;
    this.h2?.close();
    this.h2 = undefined;
  }
}
