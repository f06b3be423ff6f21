// envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, compiled per push.
import { ConfigError, type Obj, arr, bool, durationMs, isObj, num, obj, str } from '../wire.js';
import { type FilterEntry, compileHttpFilters, parsePerRouteConfig } from '../filters/registry.js';
import { type CompiledRouteConfig, compileRouteConfig } from '../router/compile.js';
import type { ClusterManager } from '../upstream/cluster.js';
import type { HcmStats, StatsStore } from '../stats.js';

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** A named route configuration slot; RDS pushes replace `current`, HCMs keep the slot. */
export interface RouteSlot {
  readonly name: string;
  current: CompiledRouteConfig | null;
}

export class RouteTable {
  private readonly slots = new Map<string, RouteSlot>();
  constructor(private readonly clusters: ClusterManager) {}

  slot(name: string): RouteSlot {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = { name, current: null }));
    return s;
  }

  compile(rc: Obj, path: string): CompiledRouteConfig {
    return compileRouteConfig(rc, { clusterSlot: (n) => this.clusters.slot(n), parsePerRoute: parsePerRouteConfig }, path);
  }

  /** Validates and installs route configurations (same-named replaced, others kept). */
  update(resources: ReadonlyMap<string, object>): string | undefined {
    const compiled: [string, CompiledRouteConfig][] = [];
    try {
      for (const [name, r] of resources) compiled.push([name, this.compile(obj(r, `RouteConfiguration ${name}`), `RouteConfiguration ${name}`)]);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    for (const [name, c] of compiled) this.slot(name).current = c;
    return undefined;
  }

  dump(): Obj[] {
    return [...this.slots.values()].flatMap((s) => (s.current ? [s.current.resource] : []));
  }
}

export interface CompiledHcm {
  readonly statPrefix: string;
  readonly stats: HcmStats;
  readonly routes: RouteSlot;
  readonly filters: readonly FilterEntry[];
  readonly generateRequestId: boolean;
  readonly upgradeTypes: ReadonlySet<string>;
  readonly maxRequestHeadersBytes: number;
  /** common_http_protocol_options.max_headers_count: more request headers than this get 431 (Envoy's default 100). */
  readonly maxHeadersCount: number;
  readonly streamIdleTimeoutMs: number;
  readonly serverName: string;
  /** server_header_transformation: OVERWRITE (default), APPEND_IF_ABSENT or PASS_THROUGH. */
  readonly serverHeader: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  /** use_remote_address (edge/gateway): x-forwarded-proto is always set from the downstream connection. */
  readonly useRemoteAddress: boolean;
  /** forward_client_cert_details: what happens to X-Forwarded-Client-Cert (Envoy's default SANITIZE). */
  readonly forwardClientCert: XfccMode;
  readonly resource: Obj;
}

export type XfccMode = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
const XFCC_MODES: readonly string[] = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'];

export function compileHcm(cfg: Obj, routes: RouteTable, stats: StatsStore, path: string): CompiledHcm {
  const statPrefix = str(cfg.stat_prefix, `${path}.stat_prefix`);
  if (!statPrefix) throw new ConfigError(`${path}.stat_prefix`, 'missing');
  let slot: RouteSlot;
  if (isObj(cfg.rds)) {
    const name = str(cfg.rds.route_config_name, `${path}.rds.route_config_name`);
    if (!name) throw new ConfigError(`${path}.rds.route_config_name`, 'missing');
    slot = routes.slot(name);
  } else if (isObj(cfg.route_config)) {
    const inline = routes.compile(cfg.route_config, `${path}.route_config`);
    slot = { name: inline.name, current: inline };
  } else throw new ConfigError(path, 'needs rds or route_config');
  const upgradeTypes = new Set<string>();
  for (const [i, u] of arr(cfg.upgrade_configs, `${path}.upgrade_configs`).entries()) {
    const uc = obj(u, `${path}.upgrade_configs[${i}]`);
    if (bool(uc.enabled, `${path}.upgrade_configs[${i}].enabled`, true)) upgradeTypes.add(str(uc.upgrade_type, `${path}.upgrade_configs[${i}].upgrade_type`).toLowerCase());
  }
  const codec = str(cfg.codec_type, `${path}.codec_type`, 'AUTO');
  if (!['AUTO', 'HTTP1', 'HTTP2'].includes(codec)) throw new ConfigError(`${path}.codec_type`, `unsupported codec ${codec}`);
  return {
    statPrefix,
    stats: stats.hcm(statPrefix),
    routes: slot,
    filters: compileHttpFilters(arr(cfg.http_filters, `${path}.http_filters`), `${path}.http_filters`),
    generateRequestId: bool(cfg.generate_request_id, `${path}.generate_request_id`, true),
    upgradeTypes,
    maxRequestHeadersBytes: num(cfg.max_request_headers_kb, `${path}.max_request_headers_kb`, 60) * 1024,
    maxHeadersCount: num((cfg.common_http_protocol_options as { max_headers_count?: unknown } | undefined)?.max_headers_count, `${path}.common_http_protocol_options.max_headers_count`, 100),
    streamIdleTimeoutMs: durationMs(cfg.stream_idle_timeout, `${path}.stream_idle_timeout`) ?? 300_000,
    serverName: str(cfg.server_name, `${path}.server_name`, 'envoy'),
    serverHeader: serverHeaderMode(str(cfg.server_header_transformation, `${path}.server_header_transformation`, 'OVERWRITE'), `${path}.server_header_transformation`),
    useRemoteAddress: bool(cfg.use_remote_address, `${path}.use_remote_address`, false),
    forwardClientCert: xfccMode(str(cfg.forward_client_cert_details, `${path}.forward_client_cert_details`, 'SANITIZE'), `${path}.forward_client_cert_details`),
    resource: cfg,
  };
}

function xfccMode(v: string, path: string): XfccMode {
  if (XFCC_MODES.includes(v)) return v as XfccMode;
  throw new ConfigError(path, `unknown value ${v} (one of ${XFCC_MODES.join(', ')})`);
}

function serverHeaderMode(v: string, path: string): CompiledHcm['serverHeader'] {
  if (v === 'OVERWRITE' || v === 'APPEND_IF_ABSENT' || v === 'PASS_THROUGH') return v;
  throw new ConfigError(path, `unknown value ${v}`);
}
