// VirtualService `tcp` routes for a sidecar's TCP port: the first route whose match holds picks the
// destination(s) for tcp_proxy (one cluster, or weighted clusters for TCP traffic shifting).
import type { L4MatchAttributes, TCPRoute } from '../model/index.js';
import { hostMatches, labelsMatch, MESH_GATEWAY, type MeshService, type Registry } from '../registry/index.js';
import type { ProxyInfo } from './proxy.js';
import { destinationCluster } from './route-action.js';
import { outboundClusterName, parseClusterName } from './names.js';
import { TYPES, duration, type Obj } from './envoy.js';
import { destinationPolicy } from './policy.js';
import { parseDurationMs } from '../xds/protos.js';

const ENVOY_TCP_IDLE_MS = 3_600_000; // tcp_proxy's default idle_timeout, which Istio keeps

/** DestinationRule connectionPool.tcp.idleTimeout of an outbound cluster as the proxy sees it ('0s' = never). */
function clusterIdleTimeout(registry: Registry, proxy: ProxyInfo, cluster: string): string | undefined {
  const c = parseClusterName(cluster);
  if (!c || c.direction !== 'outbound') return undefined;
  return destinationPolicy(registry, c.host, c.subset || undefined, c.port, proxy.namespace).connectionPool?.tcp?.idleTimeout;
}

/**
 * tcp_proxy idle_timeout from the destinations' DestinationRules (Envoy's 1 h when none sets it).
 * Weighted destinations share one tcp_proxy: the longest of their timeouts, so no destination's
 * connections close sooner than its rule asks (an unset one counts as 1 h, 0s as never).
 */
function withIdleTimeout(registry: Registry, proxy: ProxyInfo, tcpProxy: Obj, clusters: readonly string[]): Obj {
  const set = clusters.map((c) => clusterIdleTimeout(registry, proxy, c));
  if (set.every((t) => t === undefined)) return tcpProxy;
  const ms = set.map((t) => (t === undefined ? ENVOY_TCP_IDLE_MS : (parseDurationMs(t) ?? ENVOY_TCP_IDLE_MS) || Infinity));
  const longest = Math.max(...ms);
  const idle = duration(longest === Infinity ? '0s' : `${longest}ms`);
  return idle ? { ...tcpProxy, idle_timeout: idle } : tcpProxy;
}

function l4MatchApplies(m: L4MatchAttributes, proxy: ProxyInfo, port: number): boolean {
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, proxy.labels)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return false;
  if (m.gateways && m.gateways.length > 0) return m.gateways.includes(MESH_GATEWAY);
  return true; // destinationSubnets: every service here is reached by name, not by address
}

function firstApplicable(routes: readonly TCPRoute[], proxy: ProxyInfo, port: number): TCPRoute | undefined {
  return routes.find((r) => !r.match || r.match.length === 0 || r.match.some((m) => l4MatchApplies(m, proxy, port)));
}

/** tcp_proxy typed_config for a service's TCP port as a proxy sees it. */
export function tcpProxyConfig(registry: Registry, proxy: ProxyInfo, svc: MeshService, port: number, statPrefix: string): Obj {
  const base: Obj = { '@type': TYPES.tcpProxy, stat_prefix: statPrefix };
  for (const vs of registry.virtualServices(proxy.namespace, MESH_GATEWAY)) {
    if (!vs.spec.tcp?.length || !registry.vsHosts(vs).some((h) => hostMatches(h, svc.hostname))) continue;
    const vsNamespace = vs.metadata.namespace ?? 'default';
    const route = firstApplicable(vs.spec.tcp, proxy, port);
    const dests = (route?.route ?? []).filter((d, _i, all) => !!d.destination?.host && (all.length === 1 || (d.weight ?? 0) > 0));
    if (dests.length === 0) break;
    const ctx = { registry, proxyNamespace: proxy.namespace, vsNamespace, listenerPort: port, flavor: 'envoy' as const };
    if (dests.length === 1) {
      const cluster = destinationCluster(dests[0].destination, ctx);
      return withIdleTimeout(registry, proxy, { ...base, cluster }, [cluster]);
    }
    const clusters = dests.map((d) => ({ name: destinationCluster(d.destination, ctx), weight: d.weight ?? 0 }));
    return withIdleTimeout(registry, proxy, { ...base, weighted_clusters: { clusters } }, clusters.map((c) => c.name));
  }
  const cluster = outboundClusterName(port, undefined, svc.hostname);
  return withIdleTimeout(registry, proxy, { ...base, cluster }, [cluster]);
}
