// translate(snapshot, proxy): every resource a sidecar or gateway needs. What depends only on the
// proxy's namespace (and labels, when some VirtualService uses sourceLabels) is memoized per
// snapshot, so proxies alike share the same objects and the xDS server need not re-encode them.
import type { VirtualServiceSpec } from '../model/index.js';
import { registryFor, resourcesOfKind, type ConfigSnapshot, type OutboundScope, type Registry } from '../registry/index.js';
import { withWorkload, type ProxyInfo } from './proxy.js';
import type { XdsResources } from './types.js';
import type { Obj } from './envoy.js';
import { outboundClusters, inboundCluster, passthroughCluster, blackholeCluster } from './cds.js';
import { failoverLabelsKey, localityMatters, outboundLoadAssignment } from './eds.js';
import { gatewayRouteConfig, gatewayServersByPort } from './rds.js';
import { sidecarOutbound } from './sidecar-outbound.js';
import { virtualOutboundListener, inboundPorts, inboundListener, gatewayListener } from './lds.js';
import { withInboundMtls } from './security/index.js';
import { inboundAuthz } from './authz/index.js';
import { gatewayTls, mergeListeners, withHttpsRedirects } from './gateway-tls.js';
import { objectId } from './memo-ids.js';


/** Cache key part for route-dependent results: labels matter only when a VirtualService matches on sourceLabels. */
function labelsKey(registry: Registry, labels: Readonly<Record<string, string>>): string {
  const used = registry.memo('vs-uses-sourceLabels', () => resourcesOfKind<VirtualServiceSpec>(registry.snapshot, 'VirtualService')
    .some((vs) => [...(vs.spec.http ?? []), ...(vs.spec.tcp ?? [])].some((h) => (h.match ?? []).some((m) => m.sourceLabels && Object.keys(m.sourceLabels).length > 0))));
  return used ? JSON.stringify(Object.entries(labels).sort()) : '';
}

function clustersAndEndpoints(registry: Registry, scope: OutboundScope, proxyLocality: string | undefined,
  proxyLabels: Readonly<Record<string, string>>): { clusters: Map<string, Obj>; endpoints: Map<string, Obj> } {
  const namespace = scope.namespace;
  const locality = localityMatters(registry) ? proxyLocality : undefined;
  // failoverPriority on plain labels (e.g. `version`) compares the proxy's own: they join the key only then.
  const labelsPart = locality ? failoverLabelsKey(registry, proxyLabels) : '';
  return registry.memo(`cds+eds|envoy|${scope.key}|${locality ?? ''}${labelsPart ? `|${labelsPart}` : ''}`, () => {
    const clusters = outboundClusters(registry, scope, 'envoy');
    const endpoints = new Map<string, Obj>();
    for (const [name, c] of clusters) {
      if (c.type !== 'EDS') continue;
      const cla = outboundLoadAssignment(registry, name, namespace, locality, proxyLabels);
      if (cla) endpoints.set(name, cla);
    }
    return { clusters, endpoints };
  });
}

function put(m: Map<string, object>, o: Obj): void {
  m.set(String(o.name ?? o.cluster_name), o);
}

function translateSidecar(registry: Registry, proxy: ProxyInfo): XdsResources {
  const scope = registry.outboundScope(proxy.namespace, proxy.labels);
  const { clusters, endpoints } = clustersAndEndpoints(registry, scope, proxy.locality, proxy.labels);
  const locality = localityMatters(registry) ? proxy.locality ?? '' : '';
  const w = proxy.workload;
  // Per workload, by identity: a rebuild after a VirtualService change inherits them (src/registry).
  const own = w ? registry.memo(`inbound-listeners|${objectId(w)}`, () => {
    const ports = inboundPorts(registry, w);
    const authz = inboundAuthz(registry, w);
    return { ports, listeners: ports.map((p) => withInboundMtls(registry, w, p.port, inboundListener(w.address, p, authz))) }; // PeerAuthentication mTLS
  }) : undefined;
  const inbound = own?.ports ?? [];
  // Read-only maps shared by proxies alike (see translateShared): clusters differ only by the
  // inbound ports, routes and endpoints not at all between proxies of one scope.
  const inboundKey = inbound.map((p) => `${p.port}:${p.appPort}:${p.protocol}`).join(',');
  const sharedClusters = registry.memo(`sidecar-clusters|${scope.key}|${locality}|${inboundKey}`, () => {
    const m = new Map<string, object>(clusters);
    put(m, passthroughCluster());
    put(m, blackholeCluster());
    for (const p of inbound) put(m, inboundCluster(p.port, p.appPort, p.protocol));
    return m;
  });
  const outbound = sidecarOutbound(registry, proxy, scope, labelsKey(registry, proxy.labels));
  const address = proxy.address;
  const virtualOutbound = address ? registry.memo(`virtual-outbound|${address}|${scope.outboundTrafficPolicy}`, () => virtualOutboundListener(address, scope.outboundTrafficPolicy)) : undefined;
  return { listeners: listenersMap(virtualOutbound, outbound.listeners, own?.listeners), routes: outbound.routes, clusters: sharedClusters, endpoints };
}

const NONE = {};
const listenerMaps = new WeakMap<object, WeakMap<object, WeakMap<object, Map<string, object>>>>();

/**
 * A sidecar's listeners: its virtual outbound, its scope's outbound and its own inbound ones. The
 * same Map (shared: never mutated) while the three are the same objects, as after a rebuild that
 * did not touch them, so the xDS source and server find it unchanged at once.
 */
function listenersMap(virtualOutbound: Obj | undefined, outbound: readonly Obj[], inbound: readonly Obj[] | undefined): Map<string, object> {
  let byInbound = listenerMaps.get(outbound);
  if (!byInbound) listenerMaps.set(outbound, (byInbound = new WeakMap()));
  let byVirtual = byInbound.get(inbound ?? NONE);
  if (!byVirtual) byInbound.set(inbound ?? NONE, (byVirtual = new WeakMap()));
  let m = byVirtual.get(virtualOutbound ?? NONE);
  if (!m) {
    m = new Map();
    if (virtualOutbound) put(m, virtualOutbound);
    for (const l of outbound) put(m, l);
    for (const l of inbound ?? []) put(m, l);
    byVirtual.set(virtualOutbound ?? NONE, m);
  }
  return m;
}

function translateGateway(registry: Registry, proxy: ProxyInfo): XdsResources {
  const { clusters, endpoints } = clustersAndEndpoints(registry, registry.outboundScope(proxy.namespace, proxy.labels, false), proxy.locality, proxy.labels);
  const out: XdsResources = { listeners: new Map(), routes: new Map(), clusters: new Map(clusters), endpoints: new Map(endpoints) };
  put(out.clusters, blackholeCluster());
  const key = `gateway|${proxy.namespace}|${JSON.stringify(Object.entries(proxy.labels).sort())}`;
  const built = registry.memo(key, () => {
    const res: { listeners: Obj[]; routes: Obj[]; secrets: Map<string, object>; warnings: string[] } = { listeners: [], routes: [], secrets: new Map(), warnings: [] };
    const byPort = gatewayServersByPort(registry, proxy);
    const authz = inboundAuthz(registry, { namespace: proxy.namespace, labels: proxy.labels });
    for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
      const rc = withHttpsRedirects(gatewayRouteConfig(registry, proxy, port, byPort.get(port) ?? []));
      res.routes.push(rc);
      res.listeners.push(gatewayListener(registry, port, rc, authz.http));
    }
    const tls = gatewayTls(registry, proxy, authz.http); // HTTPS/TLS servers (src/translate/gateway-tls.ts)
    res.listeners = mergeListeners(res.listeners, tls.listeners);
    res.routes.push(...tls.routes);
    res.secrets = tls.secrets;
    res.warnings = tls.skipped;
    return res;
  });
  for (const l of built.listeners) put(out.listeners, l);
  for (const rc of built.routes) put(out.routes, rc);
  out.secrets = built.secrets;
  if (built.warnings.length) WARNINGS.set(out, built.warnings);
  return out;
}

const WARNINGS = new WeakMap<XdsResources, readonly string[]>();

/** What a translation could not give its proxy (e.g. a gateway server whose credential is missing), for weftd's log. */
export function translationWarnings(r: XdsResources): readonly string[] {
  return WARNINGS.get(r) ?? [];
}

/**
 * Like translate(), but the returned Maps may be shared with other proxies of the same snapshot
 * (and with later calls): callers must never mutate them. This is what the xDS source serves, so
 * alike proxies get the same Map instances and the server encodes each once.
 */
export function translateShared(snapshot: ConfigSnapshot, proxy: ProxyInfo): XdsResources {
  const registry = registryFor(snapshot);
  const p = withWorkload(proxy, snapshot);
  if (p.kind === 'gateway') return translateGateway(registry, p);
  if (p.kind === 'grpc') throw new Error(`translate: proxy ${p.id} is a proxyless gRPC client; use translateForGrpc`);
  return translateSidecar(registry, p);
}

/**
 * Every Listener, RouteConfiguration, Cluster and ClusterLoadAssignment for a sidecar or gateway.
 * Pure: the same snapshot and proxy give equal results (and shared objects where the proxy does not matter).
 * The Maps are the caller's own. Proxyless gRPC clients ask by name: use translateForGrpc.
 */
export function translate(snapshot: ConfigSnapshot, proxy: ProxyInfo): XdsResources {
  const r = translateShared(snapshot, proxy);
  return { listeners: new Map(r.listeners), routes: new Map(r.routes), clusters: new Map(r.clusters), endpoints: new Map(r.endpoints),
    ...(r.secrets ? { secrets: new Map(r.secrets) } : {}) };
}
