// Which traffic policy applies to a destination: the DestinationRule the proxy namespace sees,
// its port-level settings, and the subset's overrides (field by field, as Istio merges them).
import type { TrafficPolicy } from '../model/index.js';
import type { Registry } from '../registry/index.js';

export type PolicyFields = Omit<TrafficPolicy, 'portLevelSettings'>;

/** A traffic policy with its portLevelSettings for `port` folded in (port-level fields win). */
function policyForPort(tp: TrafficPolicy | undefined, port: number): PolicyFields {
  if (!tp) return {};
  const { portLevelSettings, ...base } = tp;
  const pl = portLevelSettings?.find((p) => p.port?.number === port);
  if (!pl) return base;
  const { port: _p, ...fields } = pl;
  return { ...base, ...fields };
}

/** Host-level policy overridden field by field by the subset's, as Istio merges them. */
export function effectivePolicy(host: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): PolicyFields {
  const h = policyForPort(host, port);
  const s = policyForPort(subset, port);
  const out: PolicyFields = { ...h };
  for (const [k, v] of Object.entries(s)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The merged policy for a destination host/subset/port as seen from a proxy namespace. */
export function destinationPolicy(registry: Registry, host: string, subset: string | undefined, port: number, proxyNamespace: string): PolicyFields {
  const svc = registry.service(host, proxyNamespace);
  const dr = registry.destinationRule(host, proxyNamespace, svc?.namespace);
  if (!dr) return {};
  const s = subset ? dr.spec.subsets?.find((x) => x.name === subset) : undefined;
  return effectivePolicy(dr.spec.trafficPolicy, s?.trafficPolicy, port);
}


