// RouteConfigurations: sidecar outbound (`<port>`), gateway (`http.<port>`), built from
// VirtualServices with Istio's virtual-host domains, plus the default route for plain services.
import type { Resource, VirtualServiceSpec, GatewaySpec, Server } from '../model/index.js';
import { hostMatches, intersectHosts, isHttpProtocol, parseProtocol, routeMemosSafe, MESH_GATEWAY, type MeshService, type OutboundScope, type Registry } from '../registry/index.js';
import type { ProxyInfo } from './proxy.js';
import { buildRouteMatch, isCatchAllMatch, type MatchScope } from './route-match.js';
import { buildHttpRoute, defaultRoute, hashPolicy, type RouteContext } from './route-action.js';
import { PASSTHROUGH_CLUSTER, gatewayRouteName, outboundClusterName, sidecarRouteName, virtualHostName } from './names.js';
import { FILTER, type Obj } from './envoy.js';
import { hasOwnCluster } from './cds.js';
import { flattenHttpRoutes } from './delegate.js';
import { objectId } from './memo-ids.js';
import type { FilterNeeds } from './filters.js';

/** Envoy routes for one VirtualService (delegates expanded) on one listener; stops after a catch-all route, as Istio does. */
export function virtualServiceRoutes(vs: Resource<VirtualServiceSpec>, registry: Registry, proxy: ProxyInfo,
  gateway: string, port: number, flavor: 'envoy' | 'grpc'): Obj[] {
  const out: Obj[] = [];
  for (const { http, namespace: vsNamespace } of flattenHttpRoutes(registry, vs)) {
    const scope: MatchScope = { port, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace, gateway, vsNamespace };
    const ctx: RouteContext = { registry, proxyNamespace: proxy.namespace, vsNamespace, listenerPort: port, flavor };
    const blocks = http.match && http.match.length > 0 ? http.match : [undefined];
    for (const m of blocks) {
      const match = buildRouteMatch(m, scope);
      if (!match) continue;
      const name = m?.name ? `${http.name ?? ''}.${m.name}` : http.name;
      const route = buildHttpRoute(http, match, name, ctx);
      if (!route) continue;
      out.push(route);
      if (isCatchAllMatch(match)) return out;
    }
  }
  return out;
}

/** Istio's domain forms for a service on a port, as seen from a proxy namespace. */
export function serviceDomains(svc: MeshService, port: number, proxyNamespace: string, domainSuffix: string): string[] {
  const h = svc.hostname;
  const out = [h, `${h}:${port}`];
  const k8sSuffix = `.${svc.namespace}.${domainSuffix}`;
  if (svc.source.kind === 'Service' && h.endsWith(k8sSuffix)) {
    const name = h.slice(0, -k8sSuffix.length);
    const ns = svc.namespace;
    out.push(`${name}.${ns}.svc`, `${name}.${ns}.svc:${port}`, `${name}.${ns}`, `${name}.${ns}:${port}`);
    if (proxyNamespace === ns) out.push(name, `${name}:${port}`);
  }
  for (const a of svc.addresses) out.push(a, `${a}:${port}`);
  return out;
}

/**
 * Adds a virtual host, dropping domains an earlier virtual host already claimed (Envoy rejects
 * duplicates). `reuse` may hand back an equal virtual host object built earlier.
 */
function addVirtualHost(used: Set<string>, name: string, domains: string[], routes: Obj[],
  reuse?: (vh: { name: string; domains: string[]; routes: Obj[] }) => Obj): Obj | undefined {
  if (routes.length === 0) return undefined;
  const fresh = domains.filter((d) => !used.has(d));
  if (fresh.length === 0) return undefined;
  for (const d of fresh) used.add(d);
  const vh = { name, domains: fresh, routes };
  return reuse ? reuse(vh) : vh;
}

function byName(a: Obj, b: Obj): number {
  return String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0;
}

interface MeshVsIndex {
  /** Service host -> the VirtualService that owns it on the mesh gateway (the first one wins). */
  byService: Map<string, Resource<VirtualServiceSpec>>;
  /** VirtualService hosts no visible service defines (external names): on every HTTP port. */
  nonService: { host: string; vs: Resource<VirtualServiceSpec> }[];
}

/** Which mesh VirtualService applies to which host, for one proxy namespace; computed once per snapshot. */
function meshVsIndex(registry: Registry, scope: OutboundScope): MeshVsIndex {
  const namespace = scope.namespace;
  return registry.memo(`mesh-vs-index|${scope.key}`, () => {
    const services = scope.services;
    const known = new Set(services.map((s) => s.hostname));
    const idx: MeshVsIndex = { byService: new Map(), nonService: [] };
    const seenNonService = new Set<string>();
    for (const vs of registry.virtualServices(namespace, MESH_GATEWAY)) {
      for (const host of registry.vsHosts(vs)) {
        if (host.includes('*')) {
          let any = false;
          for (const s of services) {
            if (!hostMatches(host, s.hostname)) continue;
            any = true;
            if (!idx.byService.has(s.hostname)) idx.byService.set(s.hostname, vs);
          }
          if (any) continue;
        } else if (known.has(host)) {
          if (!idx.byService.has(host)) idx.byService.set(host, vs);
          continue;
        }
        if (!seenNonService.has(host)) {
          seenNonService.add(host);
          idx.nonService.push({ host, vs });
        }
      }
    }
    return idx;
  });
}

/**
 * A sidecar route config and what it was built from, so that a change of VirtualServices' routes
 * alone can patch it (src/translate/sidecar-outbound.ts) instead of rebuilding every virtual host.
 */
export interface SidecarRouteTable {
  readonly rc: Obj;
  /** VirtualService -> positions in rc.virtual_hosts of the virtual hosts carrying its routes. */
  readonly byVs: ReadonlyMap<Resource<VirtualServiceSpec>, readonly number[]>;
  /** VirtualServices owning a host here that got no virtual host (no routes, or every domain taken). */
  readonly unplaced: ReadonlySet<Resource<VirtualServiceSpec>>;
  /** Virtual hosts with a fault / a CORS route: the listener's HTTP filters depend on them. */
  readonly fault: number;
  readonly cors: number;
}

/** Whether a virtual host has a route with a fault / CORS filter config (what filterNeeds counts). */
export function vhostNeeds(vh: Obj): FilterNeeds {
  const needs: FilterNeeds = { fault: false, cors: false };
  for (const r of (vh.routes as Obj[] | undefined) ?? []) {
    const pf = r.typed_per_filter_config as Obj | undefined;
    if (!pf) continue;
    if (pf[FILTER.fault]) needs.fault = true;
    if (pf[FILTER.cors]) needs.cors = true;
  }
  return needs;
}

/**
 * A mesh VirtualService's routes on a sidecar port, memoized per VirtualService (by identity, which
 * unchanged resources keep across snapshots) when routeMemosSafe; inheritClusterMemos (src/registry)
 * carries them over.
 */
export function meshVsRoutes(registry: Registry, proxy: ProxyInfo, vs: Resource<VirtualServiceSpec>, port: number): Obj[] {
  const build = (): Obj[] => virtualServiceRoutes(vs, registry, proxy, MESH_GATEWAY, port, 'envoy');
  return routeMemosSafe(registry) ? registry.memo(`vs-routes|${objectId(vs)}|${port}|${proxy.namespace}`, build) : build();
}

/** The sidecar outbound RouteConfiguration for one port (RDS name `<port>`), with how it was built. */
export function sidecarRouteTable(registry: Registry, proxy: ProxyInfo, scope: OutboundScope, port: number): SidecarRouteTable {
  const mesh = registry.snapshot.mesh;
  const services = scope.services
    .filter((s) => hasOwnCluster(s) && s.ports.some((p) => p.port === port && isHttpProtocol(p.protocol)));
  const idx = meshVsIndex(registry, scope);
  // Virtual hosts are memoized too, so a rebuild after one VirtualService changed reuses the
  // others' objects (and the xDS server their encodings).
  const memoOk = routeMemosSafe(registry);
  const nsKey = `${port}|${proxy.namespace}`;
  const routesByVs = new Map<Resource<VirtualServiceSpec>, Obj[]>();
  const routesOf = (vs: Resource<VirtualServiceSpec>): Obj[] => {
    let r = routesByVs.get(vs);
    if (!r) routesByVs.set(vs, (r = meshVsRoutes(registry, proxy, vs, port)));
    return r;
  };
  const used = new Set<string>();
  const placed: { vh: Obj; vs?: Resource<VirtualServiceSpec> }[] = [];
  const unplaced = new Set<Resource<VirtualServiceSpec>>();
  const add = (name: string, domains: string[], routes: Obj[], vs?: Resource<VirtualServiceSpec>): void => {
    const vh = addVirtualHost(used, name, domains, routes,
      memoOk ? (v) => registry.memo(`vhost|${nsKey}|${name}|${v.domains.join(',')}|${objectId(routes)}`, () => v) : undefined);
    if (vh) placed.push({ vh, vs });
    else if (vs) unplaced.add(vs);
  };
  // VirtualService hosts first, so they keep their domains if a plain service's forms collide.
  for (const { host, vs } of idx.nonService) add(virtualHostName(host, port), [host, `${host}:${port}`], routesOf(vs), vs);
  for (const svc of services) {
    const vs = idx.byService.get(svc.hostname);
    if (vs) add(virtualHostName(svc.hostname, port), serviceDomains(svc, port, proxy.namespace, mesh.domainSuffix), routesOf(vs), vs);
  }
  for (const svc of services) {
    if (idx.byService.has(svc.hostname)) continue;
    const routes = registry.memo(`default-routes|${nsKey}|${svc.hostname}`, () =>
      [defaultRoute(outboundClusterName(port, undefined, svc.hostname), 'envoy', hashPolicy(registry, svc.hostname, undefined, port, proxy.namespace, 'envoy'))]);
    add(virtualHostName(svc.hostname, port), serviceDomains(svc, port, proxy.namespace, mesh.domainSuffix), routes);
  }
  placed.sort((a, b) => byName(a.vh, b.vh)); // stable: the same order as sorting the virtual hosts alone
  const vhosts: Obj[] = [];
  const byVs = new Map<Resource<VirtualServiceSpec>, number[]>();
  let fault = 0;
  let cors = 0;
  for (const { vh, vs } of placed) {
    if (vs) {
      let at = byVs.get(vs);
      if (!at) byVs.set(vs, (at = []));
      at.push(vhosts.length);
    }
    const needs = vhostNeeds(vh);
    if (needs.fault) fault++;
    if (needs.cors) cors++;
    vhosts.push(vh);
  }
  if (!used.has('*')) vhosts.push(registry.memo(`fallback-vhost|${scope.outboundTrafficPolicy}`, () => fallbackVirtualHost(scope.outboundTrafficPolicy)));
  return { rc: { name: sidecarRouteName(port), virtual_hosts: vhosts, validate_clusters: { value: false } }, byVs, unplaced, fault, cors };
}

/** The sidecar outbound RouteConfiguration for one port (RDS name `<port>`). */
export function sidecarRouteConfig(registry: Registry, proxy: ProxyInfo, scope: OutboundScope, port: number): Obj {
  return sidecarRouteTable(registry, proxy, scope, port).rc;
}

/** Unknown hosts: to the original destination (ALLOW_ANY) or refused with 502 (REGISTRY_ONLY), as Istio does. */
function fallbackVirtualHost(policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): Obj {
  const domains = ['*'];
  if (policy === 'ALLOW_ANY') {
    return { name: 'allow_any', domains, routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: { seconds: '0', nanos: 0 } } }] };
  }
  return { name: 'block_all', domains, routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }] };
}

/** Gateway server hosts are `host` or `namespace/host` (`.` = the Gateway's namespace, `*` = any). */
function serverHostAllows(serverHost: string, gwNamespace: string, vsNamespace: string): { host: string } | undefined {
  const i = serverHost.indexOf('/');
  if (i < 0) return { host: serverHost };
  const ns = serverHost.slice(0, i);
  const host = serverHost.slice(i + 1);
  if (ns === '*' || (ns === '.' && vsNamespace === gwNamespace) || ns === vsNamespace) return { host };
  return undefined;
}

export interface GatewayServerRef { gateway: Resource<GatewaySpec>; server: Server }

/** HTTP servers of the Gateways selecting this proxy, by server port. TLS-terminating servers are not translated yet. */
export function gatewayServersByPort(registry: Registry, proxy: ProxyInfo): Map<number, GatewayServerRef[]> {
  const out = new Map<number, GatewayServerRef[]>();
  for (const gateway of registry.gatewaysFor(proxy.labels)) {
    for (const server of gateway.spec.servers ?? []) {
      if (!server?.port || !isHttpProtocol(parseProtocol(server.port.protocol))) continue;
      let list = out.get(server.port.number);
      if (!list) out.set(server.port.number, (list = []));
      list.push({ gateway, server });
    }
  }
  return out;
}

/** The gateway RouteConfiguration for one server port (RDS name `http.<port>`). */
export function gatewayRouteConfig(registry: Registry, proxy: ProxyInfo, port: number, servers: readonly GatewayServerRef[]): Obj {
  const vhostByName = new Map<string, { vhost: Obj; fromVs: Set<string> }>();
  const used = new Set<string>();
  for (const { gateway, server } of servers) {
    const gwNs = gateway.metadata.namespace ?? 'default';
    const gwKey = `${gwNs}/${gateway.metadata.name}`;
    for (const vs of registry.virtualServices(proxy.namespace, gwKey)) {
      const vsNs = vs.metadata.namespace ?? 'default';
      const vsKey = `${vsNs}/${vs.metadata.name}`;
      let routes: Obj[] | undefined;
      for (const sh of server.hosts ?? []) {
        const allowed = serverHostAllows(sh, gwNs, vsNs);
        if (!allowed) continue;
        for (const vh of registry.vsHosts(vs)) {
          const host = intersectHosts(allowed.host, vh);
          if (!host) continue;
          const name = virtualHostName(host, port);
          let entry = vhostByName.get(name);
          if (!entry) {
            const domains = (host === '*' ? ['*'] : [host, `${host}:*`]).filter((d) => !used.has(d));
            for (const d of domains) used.add(d);
            entry = { vhost: { name, domains, routes: [] as Obj[] }, fromVs: new Set() };
            if (server.tls?.httpsRedirect) entry.vhost.require_tls = 'ALL';
            vhostByName.set(name, entry);
          }
          if (entry.fromVs.has(vsKey)) continue;
          entry.fromVs.add(vsKey);
          routes ??= virtualServiceRoutes(vs, registry, proxy, gwKey, port, 'envoy');
          (entry.vhost.routes as Obj[]).push(...routes);
        }
      }
    }
  }
  const vhosts = [...vhostByName.values()].map((e) => e.vhost)
    .filter((v) => (v.routes as Obj[]).length > 0 && (v.domains as string[]).length > 0).sort(byName);
  if (vhosts.length === 0) {
    // Istio answers 404 on a gateway port no VirtualService binds to.
    vhosts.push({ name: `blackhole:${port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, direct_response: { status: 404 } }] });
  }
  return { name: gatewayRouteName(port), virtual_hosts: vhosts, validate_clusters: { value: false } };
}

