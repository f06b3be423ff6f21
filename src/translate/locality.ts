// Locality-aware failover (Istio: on when the destination has outlierDetection and locality LB is
// not disabled): localities are ranked by how much of region/zone/subzone they share with the
// proxy, `failover` rules rank a named region next, and priorities are made contiguous (Envoy and
// grpc-js reject gaps). `distribute` and `failoverPriority` are not translated yet.
import type { LocalityLoadBalancerSetting } from '../model/index.js';
import type { Obj } from './envoy.js';

function parts(l: string): [string, string, string] {
  const [r = '', z = '', s = ''] = l.split('/');
  return [r, z, s];
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
    const loc = g.locality as { region?: string; zone?: string; sub_zone?: string };
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
