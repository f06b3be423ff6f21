// The sidecar data plane: takes Envoy xDS v3 resources (plain objects) and carries HTTP/TCP traffic.
// update() validates a whole push before touching anything, so a bad push is NACKed and the
// previous config keeps serving; a good one is swapped in atomically.
import { performance } from 'node:perf_hooks';
import { TYPE } from '../xds/protos.js';
import { AdminServer } from './admin/server.js';
import { type AccessLogEntry, type Logger, type ProxyEnv, silentLogger } from './env.js';
import { RouteTable } from './hcm/config.js';
import { ListenerManager } from './listener/manager.js';
import { StatsStore } from './stats.js';
import { ClusterManager } from './upstream/cluster.js';

export const PROXY_VERSION = 'weft-proxy/0.1.0';

export interface ProxyOptions {
  nodeId: string;
  /** Workload IP, e.g. 127.0.0.5: admin binds here; listeners bind where their resources say. */
  address: string;
  /** Admin port on `address` (default 15000; 0 picks a free port). */
  adminPort?: number;
  /** Milliseconds for durations (default performance.now). */
  clock?: () => number;
  log?: Logger;
  /** How long a removed listener's connections may finish (default 5000 ms). */
  listenerDrainMs?: number;
  /** Access log sink: one entry per finished request (off when absent: no cost on the hot path). */
  accessLog?: (entry: AccessLogEntry) => void;
}

export type UpdateResult = { ok: true } | { ok: false; error: string };

const TYPE_ALIASES: Record<string, string> = { listener: TYPE.listener, route: TYPE.route, cluster: TYPE.cluster, endpoint: TYPE.endpoint };

interface Applied {
  version: string;
  at: string;
  resources: ReadonlyMap<string, object>;
}

export class Proxy {
  private readonly env: ProxyEnv;
  private readonly routes: RouteTable;
  private readonly listeners: ListenerManager;
  private readonly admin: AdminServer;
  private readonly applied = new Map<string, Applied>();
  private readonly startedAt = Date.now();
  private adminBoundPort: number | undefined;
  private state: 'INITIALIZING' | 'LIVE' | 'DRAINING' | 'CLOSED' = 'INITIALIZING';

  constructor(readonly opts: ProxyOptions) {
    const stats = new StatsStore();
    const clusters = new ClusterManager(stats);
    this.env = { clusters, stats, log: opts.log ?? silentLogger, clock: opts.clock ?? (() => performance.now()), draining: false, accessLog: opts.accessLog };
    clusters.secrets.log = this.env.log;
    this.routes = new RouteTable(clusters);
    this.listeners = new ListenerManager(this.env, this.routes, () => opts.listenerDrainMs ?? 5000);
    this.admin = new AdminServer({
      ready: () => this.ready(),
      serverInfo: () => this.serverInfo(),
      configDump: () => this.configDump(),
      statsList: () => this.env.stats.flatten(),
      clustersText: () => this.clustersText(),
    });
  }

  /**
   * Applies one xDS type. Listeners and clusters are full state; routes and endpoints replace the
   * same-named ones. Invalid input changes nothing and returns the error (the caller NACKs).
   */
  update(typeUrl: string, resources: ReadonlyMap<string, object>, version = ''): UpdateResult {
    const t = TYPE_ALIASES[typeUrl] ?? typeUrl;
    let error: string | undefined;
    try {
      switch (t) {
        case TYPE.listener:
          error = this.listeners.update(resources);
          break;
        case TYPE.cluster:
          error = this.env.clusters.updateClusters(resources);
          break;
        case TYPE.route:
          error = this.routes.update(resources);
          break;
        case TYPE.endpoint:
          error = this.env.clusters.updateEndpoints(resources);
          break;
        case TYPE.secret: // SDS: merged by name (src/proxy/tls/secrets.ts); the agent feeds them locally
          error = this.env.clusters.secrets.update(resources);
          break;
        default:
          error = `unsupported resource type ${typeUrl}`;
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (error !== undefined) {
      this.env.log.warn(`rejected ${t}: ${error}`);
      return { ok: false, error };
    }
    const prev = this.applied.get(t);
    const merged = t === TYPE.route || t === TYPE.endpoint ? new Map([...(prev?.resources ?? []), ...resources]) : resources;
    this.applied.set(t, { version, at: new Date().toISOString(), resources: merged });
    this.env.stats.server.version++;
    return { ok: true };
  }

  /**
   * Listeners and clusters have been applied, every listener is bound, and (like Envoy's warming)
   * every EDS cluster has endpoints and every RDS name in use has a route configuration.
   */
  ready(): boolean {
    return this.state === 'LIVE' && this.applied.has(TYPE.listener) && this.applied.has(TYPE.cluster) && this.listeners.allBound()
      && this.env.clusters.warmingClusters().length === 0 && this.listeners.missingRoutes().length === 0;
  }

  /** Why ready() is false, for logs and /server_info ('' when ready). */
  notReadyReason(): string {
    if (this.state !== 'LIVE') return `state ${this.state}`;
    if (!this.applied.has(TYPE.cluster)) return 'no clusters applied yet';
    if (!this.applied.has(TYPE.listener)) return 'no listeners applied yet';
    if (!this.listeners.allBound()) return 'listeners not bound';
    const warming = this.env.clusters.warmingClusters();
    if (warming.length) return `clusters waiting for endpoints: ${warming.slice(0, 5).join(', ')}`;
    const routes = this.listeners.missingRoutes();
    if (routes.length) return `listeners waiting for route configurations: ${[...new Set(routes)].slice(0, 5).join(', ')}`;
    return '';
  }

  /** Binds the admin port and the listeners applied so far (later updates bind as they come). */
  async start(): Promise<void> {
    this.adminBoundPort = await this.admin.listen(this.opts.address, this.opts.adminPort ?? 15000);
    await this.listeners.start();
    this.state = 'LIVE';
  }

  /** Resolves when listener binds started by updates have settled. */
  async settled(): Promise<void> {
    await this.listeners.settled();
  }

  get adminPort(): number | undefined {
    return this.adminBoundPort;
  }

  /** The port a listener is bound on (for listeners configured with port 0). */
  listenerPort(name: string): number | undefined {
    return this.listeners.boundPort(name);
  }

  /** Stops accepting connections and lets in-flight requests finish (at most timeoutMs). */
  async drain(timeoutMs: number): Promise<void> {
    this.state = 'DRAINING';
    await this.listeners.drain(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.state !== 'DRAINING') await this.listeners.drain(0);
    this.state = 'CLOSED';
    this.env.clusters.close();
    await this.admin.close();
  }

  serverInfo(): object {
    const up = Math.floor((Date.now() - this.startedAt) / 1000);
    return {
      version: PROXY_VERSION,
      state: this.ready() ? 'LIVE' : this.state === 'LIVE' ? 'INITIALIZING' : this.state,
      hot_restart_version: 'disabled',
      uptime_current_epoch: `${up}s`,
      uptime_all_epochs: `${up}s`,
      node: { id: this.opts.nodeId },
      ...(this.ready() ? {} : { not_ready_reason: this.notReadyReason() }),
      command_line_options: { service_node: this.opts.nodeId, admin_address: `${this.opts.address}:${this.adminBoundPort ?? ''}` },
    };
  }

  /** The current resources in the shape of Envoy's admin ConfigDump. */
  configDump(): object {
    const at = (t: string): Applied | undefined => this.applied.get(t);
    const ver = (t: string): string => at(t)?.version ?? '';
    const when = (t: string): string => at(t)?.at ?? '';
    const ADMIN = 'type.googleapis.com/envoy.admin.v3.';
    return {
      configs: [
        { '@type': `${ADMIN}BootstrapConfigDump`, bootstrap: { node: { id: this.opts.nodeId }, admin: { address: { socket_address: { address: this.opts.address, port_value: this.adminBoundPort } } } } },
        {
          '@type': `${ADMIN}ClustersConfigDump`,
          version_info: ver(TYPE.cluster),
          dynamic_active_clusters: [...this.env.clusters.clusters.values()].map((c) => ({ version_info: ver(TYPE.cluster), cluster: { '@type': TYPE.cluster, ...c.resource }, last_updated: when(TYPE.cluster) })),
        },
        {
          '@type': `${ADMIN}ListenersConfigDump`,
          version_info: ver(TYPE.listener),
          dynamic_listeners: [...this.listeners.listeners.values()].map((l) => {
            const b = this.listeners.bindState(l);
            return {
              name: l.name,
              active_state: { version_info: ver(TYPE.listener), listener: { '@type': TYPE.listener, ...l.resource }, last_updated: when(TYPE.listener) },
              ...(b.error ? { error_state: { details: b.error, last_update_attempt: when(TYPE.listener) } } : {}),
            };
          }),
        },
        {
          '@type': `${ADMIN}RoutesConfigDump`,
          dynamic_route_configs: this.routes.dump().map((r) => ({ version_info: ver(TYPE.route), route_config: { '@type': TYPE.route, ...r }, last_updated: when(TYPE.route) })),
        },
        {
          '@type': `${ADMIN}EndpointsConfigDump`,
          dynamic_endpoint_configs: this.env.clusters.assignmentsDump().map((e) => ({ version_info: ver(TYPE.endpoint), endpoint_config: { '@type': TYPE.endpoint, ...e }, last_updated: when(TYPE.endpoint) })),
        },
        this.env.clusters.secrets.dump(), // certificates and roots, never the private key
      ],
    };
  }

  /** Flat Envoy-named stats (`cluster.<name>.upstream_rq_total` ...). */
  stats(): Record<string, number> {
    return Object.fromEntries(this.env.stats.flatten());
  }

  /** Envoy's /clusters text. */
  clustersText(): string {
    const lines: string[] = [];
    for (const c of this.env.clusters.clusters.values()) {
      lines.push(`${c.name}::observability_name::${c.name}`);
      for (const e of c.allEndpoints()) {
        const p = `${c.name}::${e.key}`;
        lines.push(`${p}::cx_active::${e.cxActive}`, `${p}::cx_total::${e.cxTotal}`, `${p}::rq_active::${e.active}`, `${p}::rq_total::${e.rqTotal}`);
        lines.push(`${p}::health_flags::${e.healthy ? 'healthy' : `/failed_eds_health`}`, `${p}::weight::${e.weight}`, `${p}::priority::${e.priority}`);
        lines.push(`${p}::region::${e.locality.region ?? ''}`, `${p}::zone::${e.locality.zone ?? ''}`, `${p}::sub_zone::${e.locality.sub_zone ?? ''}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}
