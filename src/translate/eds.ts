// ClusterLoadAssignments: a cluster's endpoints filtered by subset labels, grouped by locality.
// Every locality carries a load_balancing_weight (grpc-js skips unweighted localities) and
// addresses are IP literals (grpc-js NACKs host names).
import { isIP } from 'node:net';
import type { DestinationRuleSpec } from '../model/index.js';
import { parseLocality, resourcesOfKind, type Registry, type ServiceEndpoint } from '../registry/index.js';
import { destinationPolicy } from './policy.js';
import { withFailoverPriority, withLocalityPriorities, withLocalityWeights, withTopologyLabels } from './locality.js';
import { parseClusterName } from './names.js';
import { socketAddress, type Obj } from './envoy.js';

/** Builds the CLA for `clusterName` from endpoints (already filtered to its port and subset). */
export function loadAssignment(clusterName: string, endpoints: readonly ServiceEndpoint[]): Obj {
  const byLocality = new Map<string, { weight: number; lb: Obj[]; seen: Set<string> }>();
  for (const e of endpoints) {
    if (isIP(e.address) === 0) continue;
    const key = e.locality ?? '';
    let g = byLocality.get(key);
    if (!g) byLocality.set(key, (g = { weight: 0, lb: [], seen: new Set() }));
    const addr = `${e.address}:${e.port}`;
    if (g.seen.has(addr)) continue;
    g.seen.add(addr);
    g.weight += e.weight;
    g.lb.push({ endpoint: { address: socketAddress(e.address, e.port) }, health_status: 'HEALTHY', load_balancing_weight: { value: e.weight } });
  }
  const localities = [...byLocality.keys()].sort();
  return {
    cluster_name: clusterName,
    endpoints: localities.map((l) => {
      const g = byLocality.get(l);
      return { locality: parseLocality(l), lb_endpoints: g?.lb ?? [], load_balancing_weight: { value: g?.weight ?? 1 } };
    }),
  };
}

/** Subset labels for a cluster as seen by a proxy namespace (via its DestinationRule), or undefined when none. */
export function subsetLabels(registry: Registry, host: string, subset: string, proxyNamespace: string): Record<string, string> | undefined | null {
  if (!subset) return undefined;
  const svc = registry.service(host, proxyNamespace);
  const dr = registry.destinationRule(host, proxyNamespace, svc?.namespace);
  const s = dr?.spec.subsets?.find((x) => x.name === subset);
  return s ? (s.labels ?? {}) : null;
}

/**
 * The CLA of an outbound cluster for a proxy namespace, memoized per snapshot by cluster name and
 * subset labels (proxies that see the same DestinationRule share the object). Undefined when the
 * cluster names no known service or subset.
 */
export function outboundLoadAssignment(registry: Registry, clusterName: string, proxyNamespace: string, proxyLocality?: string,
  /** The proxy's labels, for failoverPriority on labels other than the locality ones (absent: those never match). */
  proxyLabels?: Readonly<Record<string, string>>): Obj | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const svc = registry.service(parsed.host, proxyNamespace);
  if (!svc) return undefined;
  const labels = subsetLabels(registry, parsed.host, parsed.subset, proxyNamespace);
  if (labels === null) return undefined;
  const key = `cla|${clusterName}|${svc.namespace}|${labels ? JSON.stringify(Object.entries(labels).sort()) : ''}`;
  const cla = registry.memo(key, () => Object.freeze(loadAssignment(clusterName, registry.endpoints(svc, parsed.port, labels))));
  if (!proxyLocality) return cla;
  const policy = destinationPolicy(registry, parsed.host, parsed.subset || undefined, parsed.port, proxyNamespace);
  // The DestinationRule's setting, else the mesh's (Istio's getLocalityLbSetting); `enabled: false` on either turns it off.
  const lls = policy.loadBalancer?.localityLbSetting ?? registry.snapshot.mesh.localityLbSetting;
  if (lls?.enabled === false) return cla;
  // Istio: `distribute` applies on its own; failover only with outlier detection (else Envoy never fails over).
  if (lls?.distribute?.length) {
    const distribute = lls.distribute;
    return registry.memo(`${key}|distribute|${proxyLocality}|${proxyNamespace}`, () => Object.freeze(withLocalityWeights(cla, proxyLocality, distribute)));
  }
  if (!policy.outlierDetection) return cla;
  const fp = lls?.failoverPriority;
  if (fp?.length) {
    const own = withTopologyLabels(proxyLabels ?? {}, proxyLocality);
    const labelsKey = JSON.stringify(fp.map((p) => (p.includes('=') ? p : own[p] ?? '')));
    return registry.memo(`${key}|failover-priority|${proxyLocality}|${proxyNamespace}|${labelsKey}`, () => {
      const byAddress = new Map(registry.endpoints(svc, parsed.port, labels ?? undefined).map((e) => [`${e.address}:${e.port}`, withTopologyLabels(e.labels, e.locality)]));
      const prioritized = withFailoverPriority(cla, fp, own, (a, p) => byAddress.get(`${a}:${p}`));
      return Object.freeze(lls?.failover?.length ? withLocalityPriorities(prioritized, proxyLocality, lls) : prioritized);
    });
  }
  return registry.memo(`${key}|locality|${proxyLocality}|${proxyNamespace}`, () => Object.freeze(withLocalityPriorities(cla, proxyLocality, lls)));
}

/** Whether any DestinationRule (or the mesh's localityLbSetting) could turn on locality failover or weights (then CLAs depend on the proxy's locality). */
export function localityMatters(registry: Registry): boolean {
  return registry.memo('locality-matters', () => !!registry.snapshot.mesh.localityLbSetting?.distribute?.length
    || resourcesOfKind<DestinationRuleSpec>(registry.snapshot, 'DestinationRule').some((dr) => {
      const spec = JSON.stringify(dr.spec);
      return spec.includes('"outlierDetection"') || spec.includes('"distribute"');
    }));
}

/**
 * The part of a proxy's labels its CLAs depend on: the values of the labels some failoverPriority
 * (of a DestinationRule or the mesh) names without `=value`. Empty when none does, so proxies with
 * different labels keep sharing clusters and endpoints.
 */
export function failoverLabelsKey(registry: Registry, labels: Readonly<Record<string, string>>): string {
  const names = registry.memo('failover-priority-labels', () => {
    const all = [registry.snapshot.mesh.localityLbSetting, ...resourcesOfKind<DestinationRuleSpec>(registry.snapshot, 'DestinationRule').flatMap((dr) => {
      const tps = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((s) => s.trafficPolicy)];
      return tps.flatMap((tp) => [tp?.loadBalancer?.localityLbSetting, ...(tp?.portLevelSettings ?? []).map((p) => p.loadBalancer?.localityLbSetting)]);
    })].flatMap((l) => l?.failoverPriority ?? []);
    return [...new Set(all.filter((p) => !p.includes('=')))].sort();
  });
  return names.length ? JSON.stringify(names.map((n) => labels[n] ?? '')) : '';
}
