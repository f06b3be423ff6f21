// Clusters (CDS) and their endpoints (EDS or inline load_assignment), compiled once per push.
import { ConfigError, type Obj, arr, bool, durationMs, isObj, num, obj, socketAddress, str } from '../wire.js';
import type { StatsStore } from '../stats.js';
import { Endpoint } from './endpoint.js';
import { type Picker, buildPicker, hasLoadBalancer, inSlowStart } from './lb.js';
import { type ClusterPolicy, DEFAULT_POLICY, clusterPolicy } from './policy.js';
import { OutlierDetector } from './outlier.js';
import { SecretStore, type TransportSelector, compileUpstreamTransport } from '../tls/index.js';

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';
/** Upstream protocol: HTTP/1.1, h2c, or whatever the downstream request used. */
export type UpstreamProtocol = 'h1' | 'h2' | 'downstream';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const DISCOVERY_TYPES = new Set<string>(['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST']);

/** The clock clusters read by default (monotonic ms); a test in the sidecar's process may replace `now`. */
export const upstreamClock = { now: (): number => performance.now() };

export class Cluster {
  endpoints: Endpoint[] = [];
  picker: Picker = { pick: () => null };
  /** TLS origination per endpoint (src/proxy/tls); null = plaintext. */
  transport: TransportSelector | null = null;
  /** Circuit breakers, connection options, LB sizes, outlier detection settings. */
  policy: ClusterPolicy = DEFAULT_POLICY;
  outlier: OutlierDetector | null = null;
  /** Requests waiting for a connection (max_pending_requests) and retries in flight (max_retries). */
  pendingActive = 0;
  retriesActive = 0;
  /** Monotonic ms for slow start (tests inject their own, per cluster or through upstreamClock). */
  clock: () => number = () => upstreamClock.now();
  /** ORIGINAL_DST: one endpoint per requested host:port, made on demand. */
  private readonly originals = new Map<string, Endpoint>();

  constructor(
    readonly name: string,
    readonly resource: Obj,
    readonly type: DiscoveryType,
    readonly lbPolicy: string,
    readonly connectTimeoutMs: number,
    readonly protocol: UpstreamProtocol,
    /** The ClusterLoadAssignment name this cluster reads (EDS service_name or the cluster name). */
    readonly edsName: string,
    readonly stats: import('../stats.js').ClusterStats,
  ) {}

  /** Replaces the endpoint set; endpoints with the same address keep their object (pools, counters). */
  setLoadAssignment(cla: Obj | undefined, path: string): void {
    const old = new Map(this.endpoints.map((e) => [e.key, e]));
    const next: Endpoint[] = [];
    for (const [li, loc] of arr(cla?.endpoints, `${path}.endpoints`).entries()) {
      const lp = `${path}.endpoints[${li}]`;
      const l = obj(loc, lp);
      const priority = num(l.priority, `${lp}.priority`, 0);
      const locality = obj(l.locality, `${lp}.locality`) as Record<string, string>;
      // Locality-weighted balancing gives an unweighted locality no traffic, as Envoy does.
      const localityWeight = l.load_balancing_weight === undefined ? 0 : num(l.load_balancing_weight, `${lp}.load_balancing_weight`, 0);
      for (const [ei, lbe] of arr(l.lb_endpoints, `${lp}.lb_endpoints`).entries()) {
        const ep = `${lp}.lb_endpoints[${ei}]`;
        const e = obj(lbe, ep);
        const { address, port } = socketAddress(obj(e.endpoint, `${ep}.endpoint`).address, `${ep}.endpoint.address`);
        const key = `${address}:${port}`;
        let endpoint = old.get(key);
        if (!endpoint) {
          endpoint = new Endpoint(address, port, this.stats, this.connectTimeoutMs, this.policy);
          endpoint.joinedAt = this.clock();
        }
        old.delete(key);
        endpoint.localityWeight = localityWeight;
        endpoint.tls = this.transport?.forEndpoint(e.metadata) ?? null;
        endpoint.weight = num(e.load_balancing_weight, `${ep}.load_balancing_weight`, 1);
        endpoint.priority = priority;
        endpoint.locality = locality;
        endpoint.healthStatus = str(e.health_status, `${ep}.health_status`, 'HEALTHY');
        endpoint.healthy = endpoint.healthStatus === 'HEALTHY' || endpoint.healthStatus === 'UNKNOWN';
        next.push(endpoint);
      }
    }
    for (const gone of old.values()) {
      this.outlier?.forget(gone);
      gone.release();
    }
    this.endpoints = next;
    this.rebuildPicker();
  }

  /** After an endpoint or ejection change. */
  rebuildPicker(): void {
    const now = this.clock();
    const picker = buildPicker(this.lbPolicy, this.endpoints, this.policy, () => this.stats.lb_healthy_panic++, now);
    const ss = this.policy.slowStart;
    if (!ss || !inSlowStart(this.endpoints, this.policy, now)) {
      this.picker = picker;
      return;
    }
    // Slow start weights grow with time: rebuild the picker in small steps until the window ends.
    const refreshAt = now + Math.max(100, Math.min(1000, ss.windowMs / 50));
    this.picker = {
      pick: (hash) => {
        if (this.clock() < refreshAt) return picker.pick(hash);
        this.rebuildPicker();
        return this.picker.pick(hash);
      },
    };
  }

  /**
   * Envoy's previous_priorities retry priority: after every `updateFrequency` attempts the priorities
   * tried so far (hosts by key) are left out. Null when nothing is excluded yet or nothing would remain;
   * falls back to the normal picker when the remaining priorities have no healthy host.
   */
  retryPicker(tried: readonly string[], updateFrequency: number): Picker | null {
    const n = Math.floor(tried.length / updateFrequency) * updateFrequency;
    if (n === 0) return null;
    const excluded = new Set<number>();
    for (const e of this.endpoints) if (tried.lastIndexOf(e.key, n - 1) >= 0) excluded.add(e.priority);
    const rest = this.endpoints.filter((e) => !excluded.has(e.priority));
    if (rest.length === 0) return null;
    const p = buildPicker(this.lbPolicy, rest, this.policy, undefined, this.clock());
    return { pick: (hash) => p.pick(hash) ?? this.picker.pick(hash) };
  }

  /** Turns on outlier detection per the policy (once, at compile time). */
  startOutlierDetection(): void {
    const cfg = this.policy.outlier;
    if (!cfg || this.outlier || this.type === 'ORIGINAL_DST') return;
    this.outlier = new OutlierDetector(cfg, this.stats.outlier, () => this.endpoints, () => this.rebuildPicker());
  }

  /** The endpoint for an original destination (ORIGINAL_DST clusters). */
  originalDst(host: string, port: number): Endpoint {
    const key = `${host}:${port}`;
    let e = this.originals.get(key);
    if (!e) {
      if (this.originals.size >= 1024) this.releaseOriginals();
      e = new Endpoint(host, port, this.stats, this.connectTimeoutMs, this.policy);
      this.originals.set(key, e);
    }
    return e;
  }

  allEndpoints(): Endpoint[] {
    return this.type === 'ORIGINAL_DST' ? [...this.originals.values()] : this.endpoints;
  }

  private releaseOriginals(): void {
    for (const e of this.originals.values()) e.release();
    this.originals.clear();
  }

  release(): void {
    this.outlier?.close();
    if (this.outlier) this.stats.outlier.ejections_active = 0;
    for (const e of this.endpoints) e.release();
    this.releaseOriginals();
  }
}

function upstreamProtocol(c: Obj, path: string): UpstreamProtocol {
  if (c.http2_protocol_options !== undefined) return 'h2';
  const typed = obj(c.typed_extension_protocol_options, `${path}.typed_extension_protocol_options`);
  const hpo = typed[HTTP_PROTOCOL_OPTIONS];
  if (isObj(hpo)) {
    const explicit = hpo.explicit_http_config;
    if (isObj(explicit) && explicit.http2_protocol_options !== undefined) return 'h2';
    if (hpo.use_downstream_protocol_config !== undefined) return 'downstream';
  }
  if (str(c.protocol_selection, `${path}.protocol_selection`) === 'USE_DOWNSTREAM_PROTOCOL') return 'downstream';
  return 'h1';
}

/** Compiles one Cluster resource (not yet given endpoints). Throws ConfigError. */
export function compileCluster(name: string, c: Obj, stats: StatsStore, path: string, secrets?: SecretStore): Cluster {
  const type = str(c.type, `${path}.type`, 'STATIC');
  if (!DISCOVERY_TYPES.has(type)) throw new ConfigError(`${path}.type`, `unsupported cluster type ${type}`);
  let lb = str(c.lb_policy, `${path}.lb_policy`, 'ROUND_ROBIN');
  if (lb === 'CLUSTER_PROVIDED') lb = 'ROUND_ROBIN';
  if (!hasLoadBalancer(lb)) throw new ConfigError(`${path}.lb_policy`, `unsupported lb_policy ${lb}`);
  if (c.lb_policy === 'LEAST_REQUEST' && isObj(c.least_request_lb_config)) {
    // choice_count other than 2 is accepted and treated as 2.
    num(c.least_request_lb_config.choice_count, `${path}.least_request_lb_config.choice_count`, 2);
  }
  const connectTimeoutMs = durationMs(c.connect_timeout, `${path}.connect_timeout`) ?? 5000;
  const eds = obj(c.eds_cluster_config, `${path}.eds_cluster_config`);
  const edsName = str(eds.service_name, `${path}.eds_cluster_config.service_name`) || name;
  bool(c.respect_dns_ttl, `${path}.respect_dns_ttl`, false);
  const cluster = new Cluster(name, c, type as DiscoveryType, lb, connectTimeoutMs, upstreamProtocol(c, path), edsName, stats.cluster(name));
  cluster.policy = clusterPolicy(c, path);
  if (secrets) cluster.transport = compileUpstreamTransport(c, secrets, secrets.log, path);
  if (type === 'STATIC' || type === 'STRICT_DNS' || type === 'LOGICAL_DNS') {
    cluster.setLoadAssignment(obj(c.load_assignment, `${path}.load_assignment`), `${path}.load_assignment`);
  }
  return cluster;
}

/** A stable holder a compiled route keeps, so cluster pushes never need route recompilation. */
export interface ClusterSlot {
  readonly name: string;
  current: Cluster | null;
}

/** The live cluster table: full-state CDS, merged EDS. */
export class ClusterManager {
  private readonly slots = new Map<string, ClusterSlot>();
  private readonly assignments = new Map<string, Obj>();
  /** SDS secrets (workload certificate, trust bundle) the TLS transport sockets read. */
  readonly secrets = new SecretStore();
  clusters = new Map<string, Cluster>();

  constructor(private readonly stats: StatsStore) {}

  slot(name: string): ClusterSlot {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = { name, current: null }));
    return s;
  }

  /** Validates and installs a full cluster set. Returns an error string without changing anything. */
  updateClusters(resources: ReadonlyMap<string, object>): string | undefined {
    const next = new Map<string, Cluster>();
    try {
      for (const [name, r] of resources) {
        const path = `Cluster ${name}`;
        const prev = this.clusters.get(name);
        // An unchanged resource object keeps its compiled cluster (and its pools).
        if (prev && prev.resource === r) next.set(name, prev);
        else {
          const c = compileCluster(name, obj(r, path), this.stats, path, this.secrets);
          if (c.type === 'EDS') c.setLoadAssignment(this.assignments.get(c.edsName), `ClusterLoadAssignment ${c.edsName}`);
          next.set(name, c);
        }
      }
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    for (const [name, c] of this.clusters) if (next.get(name) !== c) c.release();
    // Timers start only once the push is accepted (a rejected push leaves nothing running).
    for (const [name, c] of next) if (this.clusters.get(name) !== c) c.startOutlierDetection();
    this.clusters = next;
    for (const s of this.slots.values()) s.current = next.get(s.name) ?? null;
    for (const name of next.keys()) this.slot(name).current = next.get(name)!;
    return undefined;
  }

  /** Validates and merges ClusterLoadAssignments (same-named ones replaced). */
  updateEndpoints(resources: ReadonlyMap<string, object>): string | undefined {
    try {
      // Validate everything on a scratch cluster first so a bad one changes nothing.
      for (const [name, r] of resources) {
        const scratch = new Cluster(name, {}, 'EDS', 'ROUND_ROBIN', 1000, 'h1', name, this.stats.cluster('__validate'));
        scratch.setLoadAssignment(obj(r, `ClusterLoadAssignment ${name}`), `ClusterLoadAssignment ${name}`);
      }
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    } finally {
      this.stats.clusters.delete('__validate');
    }
    for (const [name, r] of resources) this.assignments.set(name, r as Obj);
    for (const c of this.clusters.values()) {
      if (c.type === 'EDS' && resources.has(c.edsName)) c.setLoadAssignment(this.assignments.get(c.edsName), `ClusterLoadAssignment ${c.edsName}`);
    }
    return undefined;
  }

  /** EDS clusters still waiting for their first ClusterLoadAssignment (Envoy's cluster warming). */
  warmingClusters(): string[] {
    const out: string[] = [];
    for (const c of this.clusters.values()) if (c.type === 'EDS' && !this.assignments.has(c.edsName)) out.push(c.name);
    return out;
  }

  assignmentsDump(): Obj[] {
    return [...this.assignments.values()];
  }

  close(): void {
    for (const c of this.clusters.values()) c.release();
  }
}
