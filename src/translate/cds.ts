// Clusters: `outbound|<port>|<subset>|<host>` per visible service port and DestinationRule subset,
// inbound STATIC clusters, PassthroughCluster and BlackHoleCluster. The DestinationRule's traffic
// policy is applied by one builder per concern (load balancer, connection pool, outlier detection).
import type { TrafficPolicy, LoadBalancerSettings, ConnectionPoolSettings, LocalityLoadBalancerSetting, OutlierDetection } from '../model/index.js';
import { effectivePolicy } from './policy.js';
import type { MeshService, OutboundScope, Registry, ServicePortInfo } from '../registry/index.js';
import { outboundClusterName, inboundClusterName, PASSTHROUGH_CLUSTER, BLACKHOLE_CLUSTER } from './names.js';
import { ADS_CONFIG_SOURCE, DEFAULT_CONNECT_TIMEOUT_MS, TYPES, duration, socketAddress, type Obj } from './envoy.js';
import { msToDuration } from '../xds/protos.js';
import { applyUpstreamTls } from './security/index.js';

export type Flavor = 'envoy' | 'grpc';
function applyLoadBalancer(c: Obj, lb: LoadBalancerSettings | undefined, flavor: Flavor): void {
  if (lb?.consistentHash) {
    const ch = lb.consistentHash;
    if (ch.maglev && flavor === 'envoy') {
      c.lb_policy = 'MAGLEV';
      if (ch.maglev.tableSize) c.maglev_lb_config = { table_size: { value: String(ch.maglev.tableSize) } }; // UInt64Value: a string, as decoders give it
    } else {
      c.lb_policy = 'RING_HASH';
      const min = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
      c.ring_hash_lb_config = flavor === 'grpc' ? { hash_function: 'XX_HASH', ...(min ? { minimum_ring_size: { value: String(min) } } : {}) }
        : (min ? { minimum_ring_size: { value: String(min) } } : {});
    }
    return;
  }
  const simple = lb?.simple;
  if (flavor === 'grpc') {
    c.lb_policy = 'ROUND_ROBIN'; // the only simple policy grpc-js accepts
    return;
  }
  if (simple === 'PASSTHROUGH') {
    c.type = 'ORIGINAL_DST';
    delete c.eds_cluster_config;
    c.lb_policy = 'CLUSTER_PROVIDED';
  } else if (simple === 'ROUND_ROBIN' || simple === 'RANDOM') c.lb_policy = simple;
  else c.lb_policy = 'LEAST_REQUEST'; // LEAST_REQUEST, deprecated LEAST_CONN, and Istio's default since 1.14
  const slowStart = slowStartConfig(lb);
  if (slowStart && c.lb_policy === 'ROUND_ROBIN') c.round_robin_lb_config = { slow_start_config: slowStart };
  else if (slowStart && c.lb_policy === 'LEAST_REQUEST') c.least_request_lb_config = { slow_start_config: slowStart };
}

/** Istio's warmup (aggression 1 and minimum 10% unless set) or the deprecated warmupDurationSecs. */
function slowStartConfig(lb: LoadBalancerSettings | undefined): Obj | undefined {
  const w = lb?.warmup;
  if (w) {
    const window = duration(w.duration);
    return {
      ...(window ? { slow_start_window: window } : {}),
      aggression: { default_value: w.aggression ?? 1, runtime_key: '(' }, // Istio exposes no runtime key
      min_weight_percent: { value: w.minimumPercent ?? 10 },
    };
  }
  const window = duration(lb?.warmupDurationSecs);
  return window ? { slow_start_window: window } : undefined;
}

/**
 * Istio turns on Envoy's locality-weighted balancing (locality load_balancing_weight honoured) for
 * `distribute`, and for failover settings when outlier detection is on.
 */
function applyLocalityWeighted(c: Obj, lb: LoadBalancerSettings | undefined, od: OutlierDetection | undefined, meshLls: LocalityLoadBalancerSetting | undefined): void {
  const lls = lb?.localityLbSetting ?? meshLls; // the DestinationRule's, else the mesh's (Istio's getLocalityLbSetting)
  if (!lls || lls.enabled === false) return;
  const failover = od !== undefined && (lls.failover !== undefined || lls.failoverPriority !== undefined);
  if (!failover && !lls.distribute?.length) return;
  c.common_lb_config = { ...(c.common_lb_config as Obj | undefined), locality_weighted_lb_config: {} };
}

const UNLIMITED = 4294967295;

/** Circuit breakers and connection settings. Envoy defaults to 1024 of everything; Istio lifts that. */
function applyConnectionPool(c: Obj, cp: ConnectionPoolSettings | undefined, port: ServicePortInfo | undefined, flavor: Flavor): void {
  const connectTimeout = duration(cp?.tcp?.connectTimeout);
  if (connectTimeout) c.connect_timeout = connectTimeout;
  const threshold: Obj = {};
  const set = (k: string, v: number | undefined, dflt: number | undefined): void => {
    const x = v ?? dflt;
    if (x !== undefined) threshold[k] = { value: x };
  };
  const dflt = flavor === 'envoy' ? UNLIMITED : undefined;
  set('max_connections', cp?.tcp?.maxConnections, dflt);
  set('max_pending_requests', cp?.http?.http1MaxPendingRequests, dflt);
  set('max_requests', cp?.http?.http2MaxRequests, dflt);
  set('max_retries', cp?.http?.maxRetries, dflt);
  if (Object.keys(threshold).length > 0) c.circuit_breakers = { thresholds: [threshold] };
  if (flavor === 'grpc') return;
  const common: Obj = {};
  const idle = duration(cp?.http?.idleTimeout);
  if (idle) common.idle_timeout = idle;
  if (cp?.http?.maxRequestsPerConnection) common.max_requests_per_connection = { value: cp.http.maxRequestsPerConnection };
  const maxDuration = duration(cp?.tcp?.maxConnectionDuration);
  if (maxDuration) common.max_connection_duration = maxDuration;
  const h2 = port && (port.protocol === 'HTTP2' || port.protocol === 'GRPC' || port.protocol === 'GRPC-Web') || cp?.http?.h2UpgradePolicy === 'UPGRADE';
  if (!h2 && Object.keys(common).length === 0 && !cp?.http?.useClientProtocol) return;
  const opts: Obj = { '@type': TYPES.httpProtocolOptions };
  if (Object.keys(common).length > 0) opts.common_http_protocol_options = common;
  if (cp?.http?.useClientProtocol) opts.use_downstream_protocol_config = { http_protocol_options: {}, http2_protocol_options: {} };
  else opts.explicit_http_config = h2 ? { http2_protocol_options: {} } : { http_protocol_options: {} };
  c.typed_extension_protocol_options = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': opts };
}

function applyOutlierDetection(c: Obj, od: OutlierDetection | undefined): void {
  if (!od) return;
  const out: Obj = {};
  const c5xx = od.consecutive5xxErrors ?? od.consecutiveErrors;
  if (c5xx !== undefined) {
    out.consecutive_5xx = { value: c5xx };
    out.enforcing_consecutive_5xx = { value: c5xx > 0 ? 100 : 0 };
  } else out.enforcing_consecutive_5xx = { value: 0 };
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = { value: od.consecutiveGatewayErrors };
    out.enforcing_consecutive_gateway_failure = { value: od.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (od.consecutiveLocalOriginFailures !== undefined) {
    out.consecutive_local_origin_failure = { value: od.consecutiveLocalOriginFailures };
    out.enforcing_consecutive_local_origin_failure = { value: 100 };
  }
  if (od.splitExternalLocalOriginErrors) out.split_external_local_origin_errors = true;
  const interval = duration(od.interval);
  if (interval) out.interval = interval;
  const base = duration(od.baseEjectionTime);
  if (base) out.base_ejection_time = base;
  if (od.maxEjectionPercent !== undefined) out.max_ejection_percent = { value: od.maxEjectionPercent };
  out.enforcing_success_rate = { value: 0 };
  c.outlier_detection = out;
  // Istio always sets the panic threshold from minHealthPercent (default 0: panic mode off).
  c.common_lb_config = { ...(c.common_lb_config as Obj | undefined), healthy_panic_threshold: { value: od.minHealthPercent ?? 0 } };
}

/** One outbound cluster; the DestinationRule (if any) is the one the proxy namespace sees for the host. */
export function outboundCluster(registry: Registry, svc: MeshService, port: ServicePortInfo, subset: string | undefined,
  subsetPolicy: TrafficPolicy | undefined, hostPolicy: TrafficPolicy | undefined, flavor: Flavor): Obj {
  const name = outboundClusterName(port.port, subset, svc.hostname);
  const c: Obj = { name };
  const dns = svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN';
  if (dns) {
    c.type = flavor === 'grpc' ? 'LOGICAL_DNS' : svc.resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS';
  } else if (svc.resolution === 'NONE' && flavor === 'envoy') {
    c.type = 'ORIGINAL_DST';
  } else {
    c.type = 'EDS';
    c.eds_cluster_config = { eds_config: ADS_CONFIG_SOURCE, service_name: name };
  }
  c.connect_timeout = msToDuration(DEFAULT_CONNECT_TIMEOUT_MS);
  const policy = effectivePolicy(hostPolicy, subsetPolicy, port.port);
  applyLoadBalancer(c, policy.loadBalancer, flavor);
  if (c.type === 'ORIGINAL_DST') c.lb_policy = 'CLUSTER_PROVIDED';
  applyConnectionPool(c, policy.connectionPool, port, flavor);
  applyOutlierDetection(c, policy.outlierDetection);
  if (flavor === 'envoy') applyLocalityWeighted(c, policy.loadBalancer, policy.outlierDetection, registry.snapshot.mesh.localityLbSetting);
  if (flavor === 'envoy') applyUpstreamTls(c, registry, svc, port, policy.tls); // DestinationRule tls / auto mTLS
  if (dns) {
    const eps = registry.endpoints(svc, port.port);
    const picked = flavor === 'grpc' ? eps.slice(0, 1) : eps;
    c.dns_lookup_family = 'V4_ONLY';
    c.load_assignment = { cluster_name: name, endpoints: [{ locality: {}, load_balancing_weight: { value: 1 },
      lb_endpoints: picked.map((e) => ({ endpoint: { address: socketAddress(e.address, e.port) }, load_balancing_weight: { value: e.weight } })) }] };
  }
  return c;
}

/** Wildcard hosts get a cluster only with resolution NONE (ORIGINAL_DST), as in Istio. */
export function hasOwnCluster(svc: MeshService): boolean {
  return !svc.hostname.includes('*') || svc.resolution === 'NONE';
}

/** Every outbound cluster a proxy with this scope sees: each visible service port, and each subset of its DestinationRule. */
export function outboundClusters(registry: Registry, scope: OutboundScope, flavor: Flavor): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const proxyNamespace = scope.namespace;
  for (const svc of scope.services) {
    if (!hasOwnCluster(svc)) continue;
    const dr = registry.destinationRule(svc.hostname, proxyNamespace, svc.namespace);
    // A cluster depends on the service, port, subset and DestinationRule only: namespaces that see
    // the same rule share the object (and the xDS server its encoding).
    const drKey = dr ? `${dr.metadata.namespace}/${dr.metadata.name}` : '';
    const shared = (port: ServicePortInfo, subset: string | undefined, subsetPolicy: TrafficPolicy | undefined): Obj =>
      registry.memo(`cluster|${flavor}|${svc.namespace}|${svc.hostname}|${port.port}|${subset ?? ''}|${drKey}`,
        () => Object.freeze(outboundCluster(registry, svc, port, subset, subsetPolicy, dr?.spec.trafficPolicy, flavor)));
    for (const port of svc.ports) {
      const c = shared(port, undefined, undefined);
      out.set(c.name as string, c);
      for (const subset of dr?.spec.subsets ?? []) {
        const sc = shared(port, subset.name, subset.trafficPolicy);
        out.set(sc.name as string, sc);
      }
    }
  }
  return out;
}

/** `inbound|<port>||`: STATIC, to the application on 127.0.0.1. */
/**
 * `inbound|<port>||` to the app. HTTP/2 and gRPC ports reach the app over HTTP/2 (Istio's
 * setUpstreamProtocol, inbound direction): an h2-only app (a gRPC server) cannot answer HTTP/1.1.
 */
export function inboundCluster(port: number, appPort: number, protocol?: string): Obj {
  const name = inboundClusterName(port);
  const c: Obj = {
    name, type: 'STATIC', connect_timeout: msToDuration(DEFAULT_CONNECT_TIMEOUT_MS), lb_policy: 'ROUND_ROBIN',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', appPort) } }] }] },
  };
  if (protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-Web') {
    c.typed_extension_protocol_options = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': TYPES.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } } };
  }
  return c;
}

export function passthroughCluster(): Obj {
  return { name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', connect_timeout: msToDuration(DEFAULT_CONNECT_TIMEOUT_MS), lb_policy: 'CLUSTER_PROVIDED' };
}

export function blackholeCluster(): Obj {
  return { name: BLACKHOLE_CLUSTER, type: 'STATIC', connect_timeout: msToDuration(DEFAULT_CONNECT_TIMEOUT_MS) };
}
