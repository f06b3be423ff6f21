// Pulls listeners, routes, clusters, endpoints and secrets out of an Envoy-style /config_dump.
type Obj = Record<string, unknown>;

export interface DumpSections { listeners: Obj[]; routes: Obj[]; clusters: Obj[]; endpoints: Obj[]; secrets: Obj[]; bootstrap?: Obj }

const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

export function dumpSections(dump: unknown): DumpSections {
  const out: DumpSections = { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
  for (const c of arr((dump as Obj | undefined)?.configs)) {
    const type = typeof c['@type'] === 'string' ? c['@type'] : '';
    if (type.endsWith('BootstrapConfigDump')) out.bootstrap = (c.bootstrap as Obj) ?? c;
    else if (type.endsWith('ListenersConfigDump')) {
      for (const l of [...arr(c.static_listeners), ...arr(c.dynamic_listeners)]) {
        const state = (l.active_state as Obj | undefined) ?? (l.warming_state as Obj | undefined);
        out.listeners.push(((state?.listener ?? l.listener) as Obj) ?? l);
      }
    } else if (type.endsWith('RoutesConfigDump')) {
      for (const r of [...arr(c.static_route_configs), ...arr(c.dynamic_route_configs)]) out.routes.push((r.route_config as Obj) ?? r);
    } else if (type.endsWith('ClustersConfigDump')) {
      for (const k of [...arr(c.static_clusters), ...arr(c.dynamic_active_clusters), ...arr(c.dynamic_warming_clusters)]) out.clusters.push((k.cluster as Obj) ?? k);
    } else if (type.endsWith('EndpointsConfigDump')) {
      for (const e of [...arr(c.static_endpoint_configs), ...arr(c.dynamic_endpoint_configs)]) out.endpoints.push((e.endpoint_config as Obj) ?? e);
    } else if (type.endsWith('SecretsConfigDump')) {
      out.secrets.push(...arr(c.dynamic_active_secrets), ...arr(c.static_secrets));
    }
  }
  return out;
}
