// Listener resources -> what a bound socket (or an original-destination hand-off) runs.
import { ConfigError, type Obj, anyType, arr, bool, isObj, num, obj, socketAddress, str } from '../wire.js';
import { type CompiledHcm, HCM_TYPE, type RouteTable, compileHcm } from '../hcm/config.js';
import type { ClusterManager, ClusterSlot } from '../upstream/cluster.js';
import type { ListenerStats, StatsStore } from '../stats.js';
import { type NetworkRbac, NETWORK_RBAC_TYPE, compileNetworkRbac } from '../network-rbac/filter.js';
import { type ListenerTls, tlsChain, compileDownstreamTls } from '../tls/index.js';
import { type SniChain, SniTable } from '../tls/sni.js';
import { tcpIdleTimeoutMs } from './tcp-idle.js';

export const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
/** Network filters accepted ahead of the terminal one and not enforced yet. */
const PASSIVE_NETWORK_FILTERS = new Set([
  'type.googleapis.com/udpa.type.v1.TypedStruct',
  'type.googleapis.com/xds.type.v3.TypedStruct',
]);

export type FilterChain = (
  | { readonly kind: 'http'; readonly hcm: CompiledHcm }
  | { readonly kind: 'tcp'; readonly statPrefix: string; readonly targets: readonly { cluster: ClusterSlot; weight: number }[]; readonly total: number;
      /** tcp_proxy idle_timeout in ms (0: none), src/proxy/listener/tcp-idle.ts. */ readonly idleTimeoutMs: number }
) & { /** Network RBAC filters ahead of the terminal filter (src/proxy/network-rbac). */ readonly rbac?: readonly NetworkRbac[] };

export interface CompiledListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly bindToPort: boolean;
  /** virtualOutbound: an HTTP proxy handing each request to the `0.0.0.0_<port>` listener. */
  readonly useOriginalDst: boolean;
  readonly direction: string;
  /** The plaintext filter chain (null: connections are closed). */
  readonly chain: FilterChain | null;
  /** mTLS termination (src/proxy/tls): the TLS chain, and whether plaintext is served too (PERMISSIVE). */
  readonly tls: ListenerTls | null;
  /** Chains picked by SNI (gateway HTTPS/PASSTHROUGH servers, src/proxy/tls/sni.ts). */
  readonly sni?: SniTable;
  readonly stats: ListenerStats;
  readonly resource: Obj;
}

interface Deps {
  readonly routes: RouteTable;
  readonly clusters: ClusterManager;
  readonly stats: StatsStore;
}

function compileChain(fc: Obj, deps: Deps, path: string): FilterChain | null {
  let chain: FilterChain | null = null;
  const rbac: NetworkRbac[] = [];
  const filters = arr(fc.filters, `${path}.filters`);
  filters.forEach((raw, i) => {
    const p = `${path}.filters[${i}]`;
    const f = obj(raw, p);
    const cfg = obj(f.typed_config, `${p}.typed_config`);
    const type = anyType(cfg);
    if (type === NETWORK_RBAC_TYPE) {
      rbac.push(compileNetworkRbac(cfg, `${p}.typed_config`));
      return;
    }
    if (type === HCM_TYPE) chain = { kind: 'http', hcm: compileHcm(cfg, deps.routes, deps.stats, `${p}.typed_config`) };
    else if (type === TCP_PROXY_TYPE) {
      const tp = `${p}.typed_config`;
      const statPrefix = str(cfg.stat_prefix, `${tp}.stat_prefix`);
      const targets: { cluster: ClusterSlot; weight: number }[] = [];
      if (typeof cfg.cluster === 'string' && cfg.cluster) targets.push({ cluster: deps.clusters.slot(cfg.cluster), weight: 1 });
      else if (isObj(cfg.weighted_clusters)) {
        for (const [j, c] of arr(cfg.weighted_clusters.clusters, `${tp}.weighted_clusters.clusters`).entries()) {
          const co = obj(c, `${tp}.weighted_clusters.clusters[${j}]`);
          targets.push({ cluster: deps.clusters.slot(str(co.name, `${tp}.weighted_clusters.clusters[${j}].name`)), weight: num(co.weight, `${tp}.weighted_clusters.clusters[${j}].weight`, 1) });
        }
      }
      if (targets.length === 0) throw new ConfigError(tp, 'tcp_proxy needs cluster or weighted_clusters');
      chain = { kind: 'tcp', statPrefix, targets, total: targets.reduce((a, t) => a + t.weight, 0), idleTimeoutMs: tcpIdleTimeoutMs(cfg.idle_timeout, `${tp}.idle_timeout`) };
    } else if (!PASSIVE_NETWORK_FILTERS.has(type) && !bool(f.is_optional, `${p}.is_optional`, false)) {
      throw new ConfigError(p, `unsupported network filter ${str(f.name, `${p}.name`) || '(unnamed)'} of type ${type || '(none)'}`);
    } else return;
    if (i !== filters.length - 1) throw new ConfigError(p, 'http_connection_manager and tcp_proxy must be the last network filter');
  });
  const c = chain as FilterChain | null;
  return c && rbac.length > 0 ? { ...c, rbac } : c;
}

/** A chain for plaintext connections: no TLS transport protocol, no SNI match. */
function isPlaintext(fc: Obj, path: string): boolean {
  const m = obj(fc.filter_chain_match, `${path}.filter_chain_match`);
  const tp = str(m.transport_protocol, `${path}.filter_chain_match.transport_protocol`);
  return (tp === '' || tp === 'raw_buffer') && arr(m.server_names, `${path}.filter_chain_match.server_names`).length === 0 && fc.transport_socket === undefined;
}

/**
 * Chains picked per connection by SNI when a chain matches `server_names`, when there are several
 * TLS chains, or when a TLS chain has no transport socket (passthrough). A sidecar's inbound mTLS
 * listener (one TLS chain, maybe one plaintext) keeps the PERMISSIVE/STRICT path of src/proxy/tls.
 */
function sniTable(l: Obj, deps: Deps, path: string): SniTable | undefined {
  const fcs = arr(l.filter_chains, `${path}.filter_chains`).map((fc, i) => obj(fc, `${path}.filter_chains[${i}]`));
  const tlsChains = fcs.filter((fc, i) => !isPlaintext(fc, `${path}.filter_chains[${i}]`));
  const named = fcs.some((fc, i) => arr(obj(fc.filter_chain_match, `${path}.filter_chains[${i}].filter_chain_match`).server_names, '').length > 0);
  if (!named && tlsChains.length < 2 && !tlsChains.some((fc) => fc.transport_socket === undefined)) return undefined;
  const chains: SniChain[] = [];
  let plaintext: FilterChain | null = null;
  fcs.forEach((fc, i) => {
    const p = `${path}.filter_chains[${i}]`;
    const c = compileChain(fc, deps, p);
    if (!c) return;
    if (isPlaintext(fc, p)) {
      plaintext ??= c;
      return;
    }
    const names = arr(obj(fc.filter_chain_match, `${p}.filter_chain_match`).server_names, `${p}.filter_chain_match.server_names`)
      .map((n, j) => str(n, `${p}.filter_chain_match.server_names[${j}]`).toLowerCase());
    chains.push({ serverNames: names, chain: c, tls: compileDownstreamTls(fc.transport_socket, deps.clusters.secrets, deps.clusters.secrets.log, `${p}.transport_socket`) });
  });
  return new SniTable(chains, plaintext, deps.clusters.secrets.log);
}

export function compileListener(name: string, l: Obj, deps: Deps, path: string): CompiledListener {
  const { address, port } = socketAddress(l.address, `${path}.address`);
  const useOriginalDst = bool(l.use_original_dst, `${path}.use_original_dst`, false);
  let chain: FilterChain | null = null;
  let tls: ListenerTls | null = null;
  // Every chain is compiled (so any error NACKs); the first plaintext one serves connections.
  for (const [i, fc] of arr(l.filter_chains, `${path}.filter_chains`).entries()) {
    const p = `${path}.filter_chains[${i}]`;
    const c = compileChain(obj(fc, p), deps, p);
    if (!chain && c && isPlaintext(obj(fc, p), p)) chain = c;
    else tls ??= tlsChain(obj(fc, p), c, deps.clusters.secrets, deps.clusters.secrets.log, p);
  }
  const sni = sniTable(l, deps, path);
  if (sni) chain ??= sni.plaintext ?? sni.chains[0]?.chain ?? null;
  if (isObj(l.default_filter_chain)) {
    const c = compileChain(l.default_filter_chain, deps, `${path}.default_filter_chain`);
    if (!chain) chain = c;
  }
  return {
    name,
    address,
    port,
    bindToPort: bool(l.bind_to_port, `${path}.bind_to_port`, true),
    useOriginalDst,
    direction: str(l.traffic_direction, `${path}.traffic_direction`, 'UNSPECIFIED'),
    chain: chain ?? tls?.chain ?? null,
    tls: sni ? null : tls ? { ...tls, plaintext: chain !== null } : null,
    ...(sni ? { sni } : {}),
    stats: deps.stats.listener(`${address}_${port}`),
    resource: l,
  };
}
