// The service registry derived from one snapshot, plus the Istio lookups translation needs:
// visibility (exportTo), VirtualServices per gateway, DestinationRule per host, Gateways per proxy.
// Built once per snapshot (registryFor memoizes it), read-only afterwards.
import type { Resource, VirtualServiceSpec, DestinationRuleSpec, GatewaySpec, SidecarSpec } from '../model/index.js';
import type { ConfigSnapshot } from './snapshot.js';
import { resourcesOfKind } from './snapshot.js';
import { hostMatches, isExportedTo, labelsMatch, resolveHostname } from './hosts.js';
import { buildServices, type MeshService, type ServiceEndpoint, type ServiceWithEndpoints } from './services.js';

export const MESH_GATEWAY = 'mesh';

/**
 * What a proxy's outbound side sees: the services visible from its namespace, narrowed by the
 * Sidecar resource in force (egress hosts), and the outbound traffic policy.
 */
export interface OutboundScope {
  /** Cache key: namespace and the Sidecar in force. */
  readonly key: string;
  readonly namespace: string;
  readonly services: readonly MeshService[];
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  readonly sidecar?: Resource<SidecarSpec>;
}

export class Registry {
  private readonly byHost: Map<string, ServiceWithEndpoints[]>;
  private readonly all: readonly ServiceWithEndpoints[];
  private readonly endpointsOf: Map<MeshService, readonly ServiceEndpoint[]>;
  private readonly visibleCache = new Map<string, readonly MeshService[]>();
  private readonly vsCache = new Map<string, readonly Resource<VirtualServiceSpec>[]>();
  private readonly drCache = new Map<string, Resource<DestinationRuleSpec> | null>();
  /** Per-snapshot memo for translation results that do not depend on the proxy (see memo()). */
  private readonly memoStore = new Map<string, unknown>();

  /** `sameServicesAs`: a registry whose snapshot has the very same services, workloads and mesh settings. */
  constructor(readonly snapshot: ConfigSnapshot, sameServicesAs?: Registry) {
    if (sameServicesAs) {
      // Built once, never changed after: shared rather than indexed again per rebuild.
      this.all = sameServicesAs.all;
      this.byHost = sameServicesAs.byHost;
      this.endpointsOf = sameServicesAs.endpointsOf;
      return;
    }
    this.all = buildServices(snapshot);
    this.byHost = new Map();
    this.endpointsOf = new Map();
    for (const s of this.all) {
      let list = this.byHost.get(s.service.hostname);
      if (!list) this.byHost.set(s.service.hostname, (list = []));
      list.push(s);
      this.endpointsOf.set(s.service, s.endpoints);
    }
  }

  /** Expands a short host name relative to `namespace` (see resolveHostname). */
  resolveHost(host: string, namespace: string): string {
    return resolveHostname(host, namespace, this.snapshot.mesh.domainSuffix);
  }

  allServices(): MeshService[] {
    return this.all.map((s) => s.service);
  }

  /** The service named `hostname` as seen from `fromNamespace`: its own namespace's definition first. */
  service(hostname: string, fromNamespace: string): MeshService | undefined {
    const list = this.byHost.get(hostname);
    if (!list) return undefined;
    const visible = list.filter((s) => isExportedTo(s.service.exportTo, s.service.namespace, fromNamespace));
    return (visible.find((s) => s.service.namespace === fromNamespace) ?? visible[0])?.service;
  }

  /** Services visible from a namespace, one per host name, sorted by host name. */
  servicesVisibleTo(namespace: string): readonly MeshService[] {
    let out = this.visibleCache.get(namespace);
    if (!out) {
      out = [...this.byHost.keys()].sort().map((h) => this.service(h, namespace)).filter((s): s is MeshService => !!s);
      this.visibleCache.set(namespace, out);
    }
    return out;
  }

  /** Endpoints of one service port, optionally restricted to a subset's labels. */
  endpoints(service: MeshService, servicePort: number, subsetLabels?: Readonly<Record<string, string>>): ServiceEndpoint[] {
    return (this.endpointsOf.get(service) ?? []).filter((e) => e.servicePort === servicePort && labelsMatch(subsetLabels, e.labels));
  }

  /** Every (service, endpoint) whose endpoint address is `address`: what a workload serves. */
  endpointsAt(address: string): readonly { service: MeshService; endpoint: ServiceEndpoint }[] {
    const idx = this.memo('endpoints-by-address', () => {
      const m = new Map<string, { service: MeshService; endpoint: ServiceEndpoint }[]>();
      for (const s of this.all) {
        for (const endpoint of s.endpoints) {
          let list = m.get(endpoint.address);
          if (!list) m.set(endpoint.address, (list = []));
          list.push({ service: s.service, endpoint });
        }
      }
      return m;
    });
    return idx.get(address) ?? [];
  }

  /** The gateways a VirtualService binds to, as `namespace/name` or `mesh` (none given means mesh). */
  vsGateways(vs: Resource<VirtualServiceSpec>): string[] {
    const gws = vs.spec.gateways;
    if (!gws || gws.length === 0) return [MESH_GATEWAY];
    return gws.map((g) => (g === MESH_GATEWAY || g.includes('/') ? g : `${vs.metadata.namespace ?? 'default'}/${g}`));
  }

  /** VirtualServices visible from `fromNamespace` bound to `gateway` (`mesh` or `ns/name`), in precedence order. */
  virtualServices(fromNamespace: string, gateway: string): readonly Resource<VirtualServiceSpec>[] {
    const key = `${fromNamespace}\u0000${gateway}`;
    let out = this.vsCache.get(key);
    if (!out) {
      out = resourcesOfKind<VirtualServiceSpec>(this.snapshot, 'VirtualService').filter((vs) =>
        isExportedTo(vs.spec.exportTo, vs.metadata.namespace ?? 'default', fromNamespace) && this.vsGateways(vs).includes(gateway));
      this.vsCache.set(key, out);
    }
    return out;
  }

  /** VirtualService hosts expanded relative to the VirtualService's namespace. */
  vsHosts(vs: Resource<VirtualServiceSpec>): string[] {
    return (vs.spec.hosts ?? []).map((h) => this.resolveHost(h, vs.metadata.namespace ?? 'default'));
  }

  /**
   * The DestinationRule for `hostname` seen by a proxy in `proxyNamespace`, searched as Istio does:
   * the proxy's namespace, then the service's namespace, then the root namespace. Within one
   * namespace an exact host beats the most specific wildcard.
   */
  destinationRule(hostname: string, proxyNamespace: string, serviceNamespace?: string): Resource<DestinationRuleSpec> | undefined {
    const key = `${proxyNamespace}\u0000${serviceNamespace ?? ''}\u0000${hostname}`;
    const cached = this.drCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const search = [proxyNamespace, serviceNamespace, this.snapshot.mesh.rootNamespace].filter((n): n is string => !!n);
    let found: Resource<DestinationRuleSpec> | undefined;
    for (const ns of search) {
      const idx = this.drIndex().get(ns);
      if (!idx) continue;
      const visible = (dr: Resource<DestinationRuleSpec>): boolean => isExportedTo(dr.spec.exportTo, ns, proxyNamespace);
      found = idx.exact.get(hostname)?.find(visible)
        ?? idx.wildcard.find((w) => hostMatches(w.host, hostname) && visible(w.dr))?.dr;
      if (found) break;
    }
    this.drCache.set(key, found ?? null);
    return found;
  }

  private drIndexCache?: Map<string, { exact: Map<string, Resource<DestinationRuleSpec>[]>; wildcard: { host: string; dr: Resource<DestinationRuleSpec> }[] }>;

  /** DestinationRules (without workloadSelector) by namespace: exact hosts, then wildcards most specific first. */
  private drIndex(): NonNullable<Registry['drIndexCache']> {
    if (this.drIndexCache) return this.drIndexCache;
    const idx: NonNullable<Registry['drIndexCache']> = new Map();
    for (const dr of resourcesOfKind<DestinationRuleSpec>(this.snapshot, 'DestinationRule')) {
      if (dr.spec.workloadSelector || !dr.spec.host) continue;
      const ns = dr.metadata.namespace ?? 'default';
      let e = idx.get(ns);
      if (!e) idx.set(ns, (e = { exact: new Map(), wildcard: [] }));
      const host = this.resolveHost(dr.spec.host, ns);
      if (host.includes('*')) e.wildcard.push({ host, dr });
      else {
        let list = e.exact.get(host);
        if (!list) e.exact.set(host, (list = []));
        list.push(dr);
      }
    }
    for (const e of idx.values()) e.wildcard.sort((a, b) => b.host.length - a.host.length);
    this.drIndexCache = idx;
    return idx;
  }

  /** Gateways whose selector matches a gateway proxy's labels (an empty selector matches none). */
  gatewaysFor(labels: Readonly<Record<string, string>>): Resource<GatewaySpec>[] {
    return resourcesOfKind<GatewaySpec>(this.snapshot, 'Gateway').filter((g) =>
      !!g.spec.selector && Object.keys(g.spec.selector).length > 0 && labelsMatch(g.spec.selector, labels));
  }

  /**
   * The Sidecar resource for a workload, as Istio picks it: one in its namespace whose
   * workloadSelector matches, else the namespace's selector-less one, else the root namespace's.
   */
  sidecarFor(namespace: string, labels: Readonly<Record<string, string>>): Resource<SidecarSpec> | undefined {
    const all = resourcesOfKind<SidecarSpec>(this.snapshot, 'Sidecar');
    const hasSelector = (sc: Resource<SidecarSpec>): boolean => Object.keys(sc.spec.workloadSelector?.labels ?? {}).length > 0;
    return all.find((sc) => sc.metadata.namespace === namespace && hasSelector(sc) && labelsMatch(sc.spec.workloadSelector?.labels, labels))
      ?? all.find((sc) => sc.metadata.namespace === namespace && !hasSelector(sc))
      ?? all.find((sc) => sc.metadata.namespace === this.snapshot.mesh.rootNamespace && !hasSelector(sc));
  }

  /** The outbound scope of a proxy (see OutboundScope); shared by every proxy with the same namespace and Sidecar. */
  outboundScope(namespace: string, labels: Readonly<Record<string, string>>, applySidecar = true): OutboundScope {
    const sidecar = applySidecar ? this.sidecarFor(namespace, labels) : undefined;
    const key = sidecar ? `${namespace}|${sidecar.metadata.namespace}/${sidecar.metadata.name}` : namespace;
    return this.memo(`scope|${key}`, () => {
      let services = this.servicesVisibleTo(namespace);
      const egress = sidecar?.spec.egress;
      if (egress && egress.length > 0) {
        const hosts = egress.flatMap((e) => e.hosts ?? []).map((h) => {
          const i = h.indexOf('/');
          return i < 0 ? { ns: '*', host: h } : { ns: h.slice(0, i), host: h.slice(i + 1) };
        });
        services = services.filter((svc) => hosts.some(({ ns, host }) =>
          (ns === '*' || (ns === '.' ? svc.namespace === namespace : ns === svc.namespace)) && hostMatches(host, svc.hostname)));
      }
      const policy = sidecar?.spec.outboundTrafficPolicy?.mode ?? this.snapshot.mesh.outboundTrafficPolicy;
      return { key, namespace, services, outboundTrafficPolicy: policy, sidecar };
    });
  }

  /** An earlier registry whose memo entries (those `keep` accepts) hold for this one. */
  private inherited?: { from: Registry; keep: (key: string) => boolean };

  /**
   * Takes memo entries of an earlier registry whose results are known to hold for this one, on
   * first use (copying tens of thousands of entries per rebuild costs more than looking up a
   * few). Only `from`'s own entries count, and `from` stops inheriting itself, so no chain of
   * old registries stays alive: an entry nobody used during one snapshot is computed again.
   */
  inheritMemo(from: Registry, keep: (key: string) => boolean): void {
    from.inherited = undefined;
    from.routeChanges = undefined;
    this.inherited = { from, keep };
  }

  /** Takes `from`'s DestinationRule index: for a snapshot whose DestinationRules and mesh settings are `from`'s. */
  shareDestinationRules(from: Registry): void {
    this.drIndexCache ??= from.drIndexCache;
  }

  /**
   * Set when this registry's snapshot differs from `from`'s only in VirtualServices whose routes
   * alone changed (old object -> new object; see routeOnlyVsChanges): translation may then patch
   * `from`'s route tables instead of rebuilding them (src/translate/sidecar-outbound.ts).
   */
  routeChanges?: { readonly from: Registry; readonly vs: ReadonlyMap<Resource<VirtualServiceSpec>, Resource<VirtualServiceSpec>> };

  /** This registry's own memo entry for key, if it computed (or inherited) one; never computes. */
  memoized<T>(key: string): T | undefined {
    return this.memoStore.get(key) as T | undefined;
  }

  /** Per-snapshot memoization of proxy-independent results: computed once per key per snapshot. */
  memo<T>(key: string, compute: () => T): T {
    if (this.memoStore.has(key)) return this.memoStore.get(key) as T;
    const inh = this.inherited;
    if (inh && inh.from.memoStore.has(key) && inh.keep(key)) {
      const v = inh.from.memoStore.get(key) as T;
      this.memoStore.set(key, v);
      return v;
    }
    const v = compute();
    this.memoStore.set(key, v);
    return v;
  }
}

const registries = new WeakMap<ConfigSnapshot, Registry>();

/** The registry of a snapshot, built on first use and shared by every proxy translated from it. */
export function registryFor(snapshot: ConfigSnapshot): Registry {
  let r = registries.get(snapshot);
  if (!r) registries.set(snapshot, (r = new Registry(snapshot)));
  return r;
}

/** Kinds whose changes cannot alter any cluster or ClusterLoadAssignment (they shape routes, listeners, filters). */
const ROUTING_ONLY_KINDS = new Set(['VirtualService', 'Gateway', 'AuthorizationPolicy', 'RequestAuthentication']);
/** Memo keys of cluster and endpoint results (see src/translate/cds.ts, eds.ts, translate.ts). */
const CLUSTER_MEMO_PREFIXES = ['cds+eds|', 'cluster|', 'cla|', 'sidecar-clusters|', 'locality-matters',
  // Outbound scopes: services, Sidecars and mesh settings are the previous ones (routing kinds only changed).
  'scope|'];

function sameItems<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Memo keys of results no VirtualService shapes (src/translate: rds.ts, translate.ts; workloads by identity). */
const NOT_VS_MEMO_PREFIXES = ['default-routes|', 'fallback-vhost|', 'inbound-listeners|', 'virtual-outbound|'];
/** Memo keys of sidecar routes and virtual hosts keyed by VirtualService identity (src/translate/rds.ts). */
const VS_ROUTE_MEMO_PREFIXES = ['vs-routes|', 'vhost|'];

/**
 * Whether sidecar routes may be memoized per VirtualService identity: no VirtualService delegates
 * (routes would then depend on another VirtualService) or matches on sourceLabels (on the proxy).
 */
export function routeMemosSafe(registry: Registry): boolean {
  return registry.memo('route-memos-safe', () => resourcesOfKind<VirtualServiceSpec>(registry.snapshot, 'VirtualService')
    .every((vs) => (vs.spec.http ?? []).every((h) => !h.delegate && (h.match ?? []).every((m) => !m.sourceLabels || Object.keys(m.sourceLabels).length === 0))));
}

const json = (v: unknown): string => JSON.stringify(v) ?? '';

/**
 * VirtualServices changed from `prev` to `next` (old object -> new object) when every change is a
 * modification that alters only HTTP routes: same name, position (precedence), hosts, gateways
 * and exportTo, no TCP/TLS routes before or after. Then which VirtualService owns which virtual
 * host, and every virtual host's domains, are unchanged: only the changed ones' routes differ.
 * Undefined when some change is more than that (added, deleted, hosts changed...).
 */
function routeOnlyVsChanges(prev: ConfigSnapshot, next: ConfigSnapshot): Map<Resource<VirtualServiceSpec>, Resource<VirtualServiceSpec>> | undefined {
  const a = resourcesOfKind<VirtualServiceSpec>(prev, 'VirtualService');
  const b = resourcesOfKind<VirtualServiceSpec>(next, 'VirtualService');
  if (a.length !== b.length) return undefined;
  const out = new Map<Resource<VirtualServiceSpec>, Resource<VirtualServiceSpec>>();
  const noL4 = (vs: Resource<VirtualServiceSpec>): boolean => !vs.spec.tcp?.length && !vs.spec.tls?.length;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x.metadata.namespace !== y.metadata.namespace || x.metadata.name !== y.metadata.name || !noL4(x) || !noL4(y)
      || json([x.spec.hosts, x.spec.gateways, x.spec.exportTo]) !== json([y.spec.hosts, y.spec.gateways, y.spec.exportTo])) return undefined;
    out.set(x, y);
  }
  return out;
}

/**
 * When `next` differs from `prev` only in routing kinds (e.g. a VirtualService change) and its
 * unchanged inputs are the very same objects (see SnapshotInputCache), hands `next` the clusters
 * and endpoints already built for `prev` instead of rebuilding thousands of them; when only
 * VirtualServices changed, also the routes and virtual hosts of the unchanged VirtualServices
 * (their memo keys carry the VirtualService's identity, so a changed one is rebuilt). Returns
 * whether it inherited anything. Safe to skip: it only saves work.
 */
export function inheritClusterMemos(prev: ConfigSnapshot, next: ConfigSnapshot): boolean {
  const old = registries.get(prev);
  if (!old || prev === next) return false;
  if (!sameItems(prev.workloads, next.workloads) || JSON.stringify(prev.mesh) !== JSON.stringify(next.mesh)) return false;
  let onlyVirtualServices = true;
  for (const kind of new Set([...prev.byKind.keys(), ...next.byKind.keys()])) {
    if (sameItems(prev.byKind.get(kind), next.byKind.get(kind))) continue;
    if (!ROUTING_ONLY_KINDS.has(kind)) return false;
    if (kind !== 'VirtualService') onlyVirtualServices = false;
  }
  // Only routing kinds changed: the services and their endpoints are the previous ones.
  let reg = registries.get(next);
  if (!reg) registries.set(next, (reg = new Registry(next, old)));
  const vsRoutes = onlyVirtualServices && routeMemosSafe(old) && routeMemosSafe(reg);
  const kept = new Set([...CLUSTER_MEMO_PREFIXES, ...(onlyVirtualServices ? NOT_VS_MEMO_PREFIXES : []), ...(vsRoutes ? VS_ROUTE_MEMO_PREFIXES : [])]);
  // Tens of thousands of keys: look up each one's prefix (up to and with the first '|').
  reg.inheritMemo(old, (key) => kept.has(key.slice(0, key.indexOf('|') + 1) || key));
  reg.shareDestinationRules(old); // not a routing kind: the very same DestinationRules
  const changes = vsRoutes ? routeOnlyVsChanges(prev, next) : undefined;
  if (changes) reg.routeChanges = { from: old, vs: changes };
  return true;
}
