// Locality load balancing, as Istio applies it to a proxy's ClusterLoadAssignments:
// - `distribute` (no outlier detection needed): the first rule whose `from` matches the proxy's
//   locality sets each matching locality's load_balancing_weight (a `to` entry with wildcards shares
//   its weight among the localities it matches, in proportion to their own weights, rounded up) and
//   empties the localities no `to` entry names;
// - failover (only with outlier detection): localities are ranked by how much of region/zone/subzone
//   they share with the proxy, `failover` rules rank a named region next, and priorities are made
//   contiguous (Envoy and grpc-js reject gaps).
// `failoverPriority` (label-based priorities) is not translated yet.
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

/** A copy of the CLA with priorities assigned for a proxy in `proxyLocality`. */
export function withLocalityPriorities(cla: Obj, proxyLocality: string, setting: LocalityLoadBalancerSetting | undefined): Obj {
  const groups = (cla.endpoints as Obj[]).map((g) => {
    const loc = g.locality as Locality;
    return { g, r: rank(proxyLocality, [loc.region ?? '', loc.zone ?? '', loc.sub_zone ?? ''].join('/'), setting) };
  });
  const levels = [...new Set(groups.map((x) => x.r))].sort((a, b) => a - b);
  return {
    ...cla,
    endpoints: groups.map(({ g, r }) => {
      const priority = levels.indexOf(r);
      return priority > 0 ? { ...g, priority } : g;
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
