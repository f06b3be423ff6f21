// Locality load balancing, as Istio applies it to a proxy's ClusterLoadAssignments:
// - `distribute` (no outlier detection needed): the first rule whose `from` matches the proxy's
//   locality sets each matching locality's load_balancing_weight (a `to` entry with wildcards shares
//   its weight among the localities it matches, in proportion to their own weights, rounded up) and
//   empties the localities no `to` entry names;
// - failover (only with outlier detection): localities are ranked by how much of region/zone/subzone
//   they share with the proxy, `failover` rules rank a named region next, and priorities are made
//   contiguous (Envoy and grpc-js reject gaps).
// - failoverPriority (only with outlier detection): endpoints sharing the proxy's values of the
//   first N listed labels come first (longest prefix wins); `label=value` fixes the value to match.
//   Locality labels (topology.kubernetes.io/region, .../zone, topology.istio.io/subzone) are derived
//   from localities as Istio does; other labels compare with the proxy's own labels when known.
//   With `failover` too, locality ranking then splits each of those priorities further.
import type { LocalityLoadBalancerSetting } from '../model/index.js';
import type { Obj } from './envoy.js';

type Locality = { region?: string; zone?: string; sub_zone?: string };

function parts(l: string): [string, string, string] {
  const [r = '', z = '', s = ''] = l.split('/');
  return [r, z, s];
}

/** Istio's LocalityMatch: a rule `region[/zone[/subzone]]`, `*` for any part, absent parts match all. */
export function localityMatches(loc: Locality, rule: string): boolean {
  const [rr, rz, rs] = parts(rule);
  return (rr === '*' || (loc.region ?? '') === rr)
    && (rz === '*' || rz === '' || (loc.zone ?? '') === rz)
    && (rs === '*' || rs === '' || (loc.sub_zone ?? '') === rs);
}

/** 0 = same subzone ... 2 = same region, 3 = failover region, 4 = anything else. */
function rank(proxy: string, endpoint: string, setting: LocalityLoadBalancerSetting | undefined): number {
  const [pr, pz, ps] = parts(proxy);
  const [er, ez, es] = parts(endpoint);
  if (pr && pr === er) {
    if (pz && pz === ez) return ps && ps === es ? 0 : 1;
    return 2;
  }
  const fo = setting?.failover?.find((f) => f.from === pr);
  return fo && fo.to === er ? 3 : 4;
}

/** A copy of the CLA with priorities assigned for a proxy in `proxyLocality` (existing priorities kept as the major key). */
export function withLocalityPriorities(cla: Obj, proxyLocality: string, setting: LocalityLoadBalancerSetting | undefined): Obj {
  const groups = (cla.endpoints as Obj[]).map((g) => {
    const loc = g.locality as Locality;
    return { g, r: ((g.priority as number | undefined) ?? 0) * 5 + rank(proxyLocality, [loc.region ?? '', loc.zone ?? '', loc.sub_zone ?? ''].join('/'), setting) };
  });
  const levels = [...new Set(groups.map((x) => x.r))].sort((a, b) => a - b);
  return {
    ...cla,
    endpoints: groups.map(({ g, r }) => {
      const priority = levels.indexOf(r);
      if (priority > 0) return { ...g, priority };
      if (g.priority === undefined) return g;
      const { priority: _p, ...rest } = g;
      return rest;
    }),
  };
}

export const TOPOLOGY_LABELS = { region: 'topology.kubernetes.io/region', zone: 'topology.kubernetes.io/zone', subzone: 'topology.istio.io/subzone' } as const;

/** Labels plus the topology labels Istio derives from a locality (parts present only). */
export function withTopologyLabels(labels: Readonly<Record<string, string>>, locality: string | undefined): Record<string, string> {
  const [r, z, sz] = parts(locality ?? '');
  const out: Record<string, string> = { ...labels };
  if (r) out[TOPOLOGY_LABELS.region] = r;
  if (z) out[TOPOLOGY_LABELS.zone] = z;
  if (sz) out[TOPOLOGY_LABELS.subzone] = sz;
  return out;
}

/**
 * Istio's applyFailoverPriorities: each locality group is split by how many leading `priorities`
 * labels an endpoint shares with the proxy (all: 0; first mismatch at j: n - j), each part weighing
 * the sum of its endpoints' weights; priorities are then made contiguous.
 */
export function withFailoverPriority(cla: Obj, priorities: readonly string[], proxyLabels: Readonly<Record<string, string>>,
  endpointLabels: (address: string, port: number) => Readonly<Record<string, string>> | undefined): Obj {
  const labels = priorities.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? { name: p, value: proxyLabels[p] ?? '' } : { name: p.slice(0, eq), value: p.slice(eq + 1) };
  });
  const out: Obj[] = [];
  for (const g of cla.endpoints as Obj[]) {
    const byPriority = new Map<number, Obj[]>();
    for (const lbe of g.lb_endpoints as Obj[]) {
      const sa = ((lbe.endpoint as Obj).address as Obj).socket_address as { address: string; port_value: number };
      const el = endpointLabels(sa.address, sa.port_value) ?? {};
      const j = labels.findIndex((l) => (el[l.name] ?? '') !== l.value);
      const priority = j < 0 ? 0 : labels.length - j;
      const list = byPriority.get(priority);
      if (list) list.push(lbe);
      else byPriority.set(priority, [lbe]);
    }
    for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
      const lbes = byPriority.get(priority)!;
      const weight = lbes.reduce((a, e) => a + ((e.load_balancing_weight as { value?: number } | undefined)?.value ?? 1), 0);
      out.push({ ...g, lb_endpoints: lbes, load_balancing_weight: { value: weight }, priority });
    }
  }
  const levels = [...new Set(out.map((g) => g.priority as number))].sort((a, b) => a - b);
  return {
    ...cla,
    endpoints: out.map((g) => {
      const priority = levels.indexOf(g.priority as number);
      const { priority: _p, ...rest } = g;
      return priority > 0 ? { ...rest, priority } : rest;
    }),
  };
}

/**
 * A copy of the CLA with Istio's `distribute` weights for a proxy in `proxyLocality`, or the CLA
 * itself when no rule's `from` matches the proxy.
 */
export function withLocalityWeights(cla: Obj, proxyLocality: string, distribute: NonNullable<LocalityLoadBalancerSetting['distribute']>): Obj {
  const [region, zone, sub_zone] = parts(proxyLocality);
  const proxy: Locality = { region, zone, sub_zone };
  const rule = distribute.find((d) => d.from !== undefined && localityMatches(proxy, d.from));
  if (!rule) return cla;
  const groups = (cla.endpoints as Obj[]).map((g) => ({ ...g }));
  const unmatched = new Set(groups.keys());
  for (const [to, weight] of Object.entries(rule.to ?? {})) {
    const own = new Map<number, number>();
    let total = 0;
    for (const i of unmatched) {
      if (!localityMatches(groups[i].locality as Locality, to)) continue;
      const w = (groups[i].load_balancing_weight as { value?: number } | undefined)?.value ?? 1;
      own.set(i, w);
      total += w;
    }
    for (const [i, w] of own) {
      unmatched.delete(i);
      const share = (w * weight) / total;
      if (share > 0) groups[i].load_balancing_weight = { value: Math.ceil(share) };
    }
  }
  // Localities no `to` entry names get no traffic (Istio empties their endpoint lists).
  for (const i of unmatched) groups[i].lb_endpoints = [];
  return { ...cla, endpoints: groups };
}
