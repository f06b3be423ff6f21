// Cluster-level resilience settings read once per push: circuit breaker thresholds, HTTP connection
// options (idle timeout, max requests per connection, max duration), TCP keepalive, outlier
// detection and hash load balancer sizes. Defaults are Envoy's.
import { ConfigError, type Obj, arr, bool, durationMs, isObj, num, obj, str } from '../wire.js';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
/** Istio's "unlimited" (max uint32) and anything near it mean no limit. */
const NO_LIMIT = 2 ** 31;

export interface OutlierConfig {
  readonly consecutive5xx: number;
  readonly enforcing5xx: number;
  readonly consecutiveGateway: number;
  readonly enforcingGateway: number;
  readonly consecutiveLocal: number;
  readonly enforcingLocal: number;
  readonly splitLocal: boolean;
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

/** Envoy slow_start_config: new endpoints' weights ramp up over `windowMs`. */
export interface SlowStartConfig {
  readonly windowMs: number;
  readonly aggression: number;
  /** 0..1 */
  readonly minWeight: number;
}

export interface ClusterPolicy {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  /** Idle upstream connections close after this (kept below common servers' keep-alive timeouts). */
  readonly idleTimeoutMs: number;
  /** 0 = none. */
  readonly maxConnectionDurationMs: number;
  /** TCP keepalive probe start (ms), 0 = off. */
  readonly tcpKeepaliveMs: number;
  /** Percent of healthy hosts below which the LB uses all hosts (Envoy's panic mode). */
  readonly panicThreshold: number;
  readonly ringMin: number;
  readonly ringMax: number;
  readonly maglevSize: number;
  readonly outlier: OutlierConfig | null;
  /** common_lb_config.locality_weighted_lb_config: pick a locality by weight, then a host in it. */
  readonly localityWeighted: boolean;
  /** ROUND_ROBIN / LEAST_REQUEST slow start; null = off. */
  readonly slowStart: SlowStartConfig | null;
}

/** Default upstream idle timeout: below Node's 5 s and other servers' keep-alive defaults. */
export const DEFAULT_IDLE_TIMEOUT_MS = 4000;

function limit(v: unknown, path: string, def: number): number {
  const n = num(v, path, def);
  return n >= NO_LIMIT ? Infinity : n;
}

function outlierConfig(o: Obj, p: string): OutlierConfig {
  const maxPct = num(o.max_ejection_percent, `${p}.max_ejection_percent`, 10);
  return {
    consecutive5xx: num(o.consecutive_5xx, `${p}.consecutive_5xx`, 5),
    enforcing5xx: num(o.enforcing_consecutive_5xx, `${p}.enforcing_consecutive_5xx`, 100),
    consecutiveGateway: num(o.consecutive_gateway_failure, `${p}.consecutive_gateway_failure`, 5),
    enforcingGateway: num(o.enforcing_consecutive_gateway_failure, `${p}.enforcing_consecutive_gateway_failure`, 0),
    consecutiveLocal: num(o.consecutive_local_origin_failure, `${p}.consecutive_local_origin_failure`, 5),
    enforcingLocal: num(o.enforcing_consecutive_local_origin_failure, `${p}.enforcing_consecutive_local_origin_failure`, 100),
    splitLocal: bool(o.split_external_local_origin_errors, `${p}.split_external_local_origin_errors`, false),
    intervalMs: Math.max(1, durationMs(o.interval, `${p}.interval`) ?? 10_000),
    baseEjectionMs: durationMs(o.base_ejection_time, `${p}.base_ejection_time`) ?? 30_000,
    maxEjectionMs: durationMs(o.max_ejection_time, `${p}.max_ejection_time`) ?? 300_000,
    maxEjectionPercent: Math.min(100, Math.max(0, maxPct)),
  };
}

function slowStartConfig(c: Obj, path: string): SlowStartConfig | null {
  const field = c.lb_policy === 'LEAST_REQUEST' ? 'least_request_lb_config' : c.lb_policy === 'ROUND_ROBIN' || c.lb_policy === undefined ? 'round_robin_lb_config' : '';
  if (!field || !isObj(c[field])) return null;
  const p = `${path}.${field}.slow_start_config`;
  const ss = c[field].slow_start_config;
  if (!isObj(ss)) return null;
  const windowMs = durationMs(ss.slow_start_window, `${p}.slow_start_window`) ?? 0;
  if (windowMs <= 0) return null;
  // Envoy: a non-positive aggression counts as 1.0; min_weight_percent defaults to 10.
  const aggression = num(obj(ss.aggression, `${p}.aggression`).default_value, `${p}.aggression.default_value`, 1);
  const minPct = num(obj(ss.min_weight_percent, `${p}.min_weight_percent`).value, `${p}.min_weight_percent.value`, 10);
  if (minPct < 0 || minPct > 100) throw new ConfigError(`${p}.min_weight_percent.value`, 'must be within 0..100');
  return { windowMs, aggression: aggression > 0 ? aggression : 1, minWeight: minPct / 100 };
}

/** Reads the resilience settings of one Cluster resource. Throws ConfigError naming the field. */
export function clusterPolicy(c: Obj, path: string): ClusterPolicy {
  // Envoy: the DEFAULT priority threshold applies; HIGH is accepted but not separate here.
  let th: Obj = {};
  for (const [i, t] of arr(obj(c.circuit_breakers, `${path}.circuit_breakers`).thresholds, `${path}.circuit_breakers.thresholds`).entries()) {
    const o = obj(t, `${path}.circuit_breakers.thresholds[${i}]`);
    if (str(o.priority, `${path}.circuit_breakers.thresholds[${i}].priority`, 'DEFAULT') === 'DEFAULT') th = o;
  }
  const tp = `${path}.circuit_breakers.thresholds`;
  const typed = obj(c.typed_extension_protocol_options, `${path}.typed_extension_protocol_options`);
  const hpo = isObj(typed[HTTP_PROTOCOL_OPTIONS]) ? typed[HTTP_PROTOCOL_OPTIONS] : {};
  const cp = `${path}.typed_extension_protocol_options.common_http_protocol_options`;
  // The deprecated cluster-level fields still work when the typed options do not set them.
  const common = { ...obj(c.common_http_protocol_options, `${path}.common_http_protocol_options`), ...obj(hpo.common_http_protocol_options, cp) };
  const perConn = num(common.max_requests_per_connection ?? c.max_requests_per_connection, `${cp}.max_requests_per_connection`, 0);
  const keep = obj(obj(c.upstream_connection_options, `${path}.upstream_connection_options`).tcp_keepalive, `${path}.upstream_connection_options.tcp_keepalive`);
  const hasKeep = isObj(obj(c.upstream_connection_options, `${path}.upstream_connection_options`).tcp_keepalive);
  const ring = obj(c.ring_hash_lb_config, `${path}.ring_hash_lb_config`);
  const ringMin = num(ring.minimum_ring_size, `${path}.ring_hash_lb_config.minimum_ring_size`, 1024);
  const ringMax = num(ring.maximum_ring_size, `${path}.ring_hash_lb_config.maximum_ring_size`, 8 * 1024 * 1024);
  const maglevSize = num(obj(c.maglev_lb_config, `${path}.maglev_lb_config`).table_size, `${path}.maglev_lb_config.table_size`, 65537);
  const od = c.outlier_detection;
  const panic = obj(obj(c.common_lb_config, `${path}.common_lb_config`).healthy_panic_threshold, `${path}.common_lb_config.healthy_panic_threshold`);
  return {
    maxConnections: limit(th.max_connections, `${tp}.max_connections`, 1024),
    maxPendingRequests: limit(th.max_pending_requests, `${tp}.max_pending_requests`, 1024),
    maxRequests: limit(th.max_requests, `${tp}.max_requests`, 1024),
    maxRetries: limit(th.max_retries, `${tp}.max_retries`, 3),
    maxRequestsPerConnection: perConn,
    idleTimeoutMs: durationMs(common.idle_timeout, `${cp}.idle_timeout`) ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxConnectionDurationMs: durationMs(common.max_connection_duration, `${cp}.max_connection_duration`) ?? 0,
    tcpKeepaliveMs: hasKeep ? num(keep.keepalive_time, `${path}.upstream_connection_options.tcp_keepalive.keepalive_time`, 7200) * 1000 : 0,
    panicThreshold: num(panic.value, `${path}.common_lb_config.healthy_panic_threshold`, 50),
    ringMin: Math.max(1, ringMin),
    ringMax: Math.max(ringMin, ringMax),
    maglevSize: Math.max(1, maglevSize),
    outlier: isObj(od) ? outlierConfig(od, `${path}.outlier_detection`) : null,
    localityWeighted: isObj(obj(c.common_lb_config, `${path}.common_lb_config`).locality_weighted_lb_config),
    slowStart: slowStartConfig(c, path),
  };
}

export const DEFAULT_POLICY: ClusterPolicy = clusterPolicy({}, 'Cluster');
