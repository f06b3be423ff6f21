// Reference checks over one proxy's resources (go-control-plane's Snapshot.Consistent, extended to
// api_listener, inline routes, tcp_proxy and mirrors): what Envoy would warm forever or answer 503 NC for.
import type { XdsResources } from './types.js';
import { FILTER, type Obj } from './envoy.js';

function routeClusters(rc: Obj): string[] {
  const out: string[] = [];
  for (const vh of (rc.virtual_hosts as Obj[] | undefined) ?? []) {
    for (const r of (vh.routes as Obj[] | undefined) ?? []) {
      const a = r.route as Obj | undefined;
      if (!a) continue;
      if (typeof a.cluster === 'string') out.push(a.cluster);
      for (const wc of ((a.weighted_clusters as Obj | undefined)?.clusters as Obj[] | undefined) ?? []) out.push(String(wc.name));
      for (const m of (a.request_mirror_policies as Obj[] | undefined) ?? []) out.push(String(m.cluster));
    }
  }
  return out;
}

function networkFilters(l: Obj): Obj[] {
  const out: Obj[] = [];
  for (const fc of (l.filter_chains as Obj[] | undefined) ?? []) out.push(...((fc.filters as Obj[] | undefined) ?? []));
  const api = (l.api_listener as Obj | undefined)?.api_listener as Obj | undefined;
  if (api) out.push({ name: FILTER.hcm, typed_config: api });
  return out;
}

/** Every dangling reference, one message each; empty when consistent. */
export function checkConsistency(r: XdsResources): string[] {
  const problems: string[] = [];
  const needCluster = (cluster: string, where: string): void => {
    if (!r.clusters.has(cluster)) problems.push(`${where} references cluster ${cluster}, which does not exist`);
  };
  for (const [name, l] of r.listeners) {
    for (const f of networkFilters(l as Obj)) {
      const tc = f.typed_config as Obj | undefined;
      if (!tc) continue;
      const rds = (tc.rds as Obj | undefined)?.route_config_name;
      if (typeof rds === 'string' && !r.routes.has(rds)) problems.push(`listener ${name} references route config ${rds}, which does not exist`);
      const inline = tc.route_config as Obj | undefined;
      if (inline) for (const c of routeClusters(inline)) needCluster(c, `listener ${name} (inline route ${String(inline.name)})`);
      if (typeof tc.cluster === 'string') needCluster(tc.cluster, `listener ${name} (tcp_proxy)`);
    }
  }
  for (const [name, rc] of r.routes) for (const c of routeClusters(rc as Obj)) needCluster(c, `route config ${name}`);
  for (const [name, c] of r.clusters) {
    const cl = c as Obj;
    if (cl.type !== 'EDS') continue;
    const svcName = ((cl.eds_cluster_config as Obj | undefined)?.service_name as string | undefined) ?? name;
    if (!r.endpoints.has(svcName)) problems.push(`cluster ${name} (EDS) has no ClusterLoadAssignment ${svcName}`);
  }
  return problems;
}
