// Proxyless gRPC (Istio's grpcgen): resources by requested name only. Listener `host:port` (as the
// client wrote it, short names expanded) with an api_listener HCM whose RDS name is that same
// `host:port`, so the RouteConfiguration's domains can cover it exactly. Servers (XdsServer) ask for
// `xds.istio.io/grpc/lds/inbound/IP:port`. See notes xds-facts §2/§6.
import { registryFor, MESH_GATEWAY, type ConfigSnapshot, type MeshService, type Registry, type ServicePortInfo } from '../registry/index.js';
import { TYPE } from '../xds/protos.js';
import { withWorkload, type ProxyInfo } from './proxy.js';
import type { Obj } from './envoy.js';
import { hcmFilter, httpConnectionManager, httpFilters } from './filters.js';
import { socketAddress } from './envoy.js';
import { isIP } from 'node:net';
import { virtualServiceRoutes } from './rds.js';
import { defaultRoute, hashPolicy } from './route-action.js';
import { outboundCluster } from './cds.js';
import { outboundLoadAssignment } from './eds.js';
import { inboundClusterName, outboundClusterName, parseClusterName, virtualHostName } from './names.js';
import { hostMatches } from '../registry/index.js';

interface Target { name: string; host: string; port: ServicePortInfo; svc: MeshService }

/** Resolves a requested `host[:port]` to a service port; undefined when there is none (reported as absent). */
export function resolveGrpcTarget(registry: Registry, proxy: ProxyInfo, name: string): Target | undefined {
  const m = /^(.*?)(?::(\d+))?$/.exec(name);
  if (!m || !m[1]) return undefined;
  // `name`, `name.ns`, `name.ns.svc` and the FQDN all name the same Kubernetes service.
  const suffix = registry.snapshot.mesh.domainSuffix;
  const candidates = [registry.resolveHost(m[1], proxy.namespace), `${m[1]}.${suffix}`, `${m[1]}.${suffix.split('.').slice(1).join('.')}`];
  const svc = candidates.map((h) => registry.service(h, proxy.namespace)).find((x) => !!x);
  if (!svc) return undefined;
  const host = svc.hostname;
  const port = m[2] !== undefined ? svc.ports.find((p) => p.port === Number(m[2])) : svc.ports.length === 1 ? svc.ports[0] : undefined;
  return port ? { name, host, port, svc } : undefined;
}

function grpcListener(t: Target): Obj {
  return {
    name: t.name,
    api_listener: { api_listener: httpConnectionManager({ statPrefix: t.name, rds: t.name, httpFilters: httpFilters('grpc-client', { fault: false, cors: false }) }) },
  };
}

/** Server listener names: Istio's `xds.istio.io/grpc/lds/inbound/IP:port`, or any template ending in `listening_address=IP:port`. */
export const GRPC_SERVER_LISTENER_PREFIX = 'xds.istio.io/grpc/lds/inbound/';

function serverAddress(name: string): { ip: string; port: number } | undefined {
  const rest = name.startsWith(GRPC_SERVER_LISTENER_PREFIX) ? name.slice(GRPC_SERVER_LISTENER_PREFIX.length)
    : /[?&]xds\.resource\.listening_address=([^&]+)$/.exec(name)?.[1];
  const m = rest !== undefined ? /^\[?([^\]]+?)\]?:(\d+)$/.exec(rest) : null;
  if (!m || isIP(m[1]) === 0) return undefined;
  return { ip: m[1], port: Number(m[2]) };
}

/** An XdsServer's listener: bound address, one HCM whose routes are non-forwarding (A36). */
function grpcServerListener(name: string, ip: string, port: number): Obj {
  const routeConfig = {
    name: inboundClusterName(port),
    virtual_hosts: [{ name: `inbound|grpc|${port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, non_forwarding_action: {} }] }],
  };
  return {
    name,
    address: socketAddress(ip, port),
    filter_chains: [{ filters: [hcmFilter(httpConnectionManager({ statPrefix: `inbound_${ip}_${port}`, routeConfig, httpFilters: httpFilters('grpc-server', { fault: false, cors: false }) }))] }],
    traffic_direction: 'INBOUND',
  };
}

function grpcRouteConfig(registry: Registry, proxy: ProxyInfo, t: Target): Obj {
  let routes: Obj[] = [];
  for (const vs of registry.virtualServices(proxy.namespace, MESH_GATEWAY)) {
    if (!registry.vsHosts(vs).some((h) => hostMatches(h, t.host))) continue;
    routes = virtualServiceRoutes(vs, registry, proxy, MESH_GATEWAY, t.port.port, 'grpc');
    break; // the first VirtualService for a host wins, as for sidecars
  }
  if (routes.length === 0) {
    routes = [defaultRoute(outboundClusterName(t.port.port, undefined, t.host), 'grpc', hashPolicy(registry, t.host, undefined, t.port.port, proxy.namespace, 'grpc'))];
  }
  const domains = [...new Set([t.name, virtualHostName(t.host, t.port.port)])];
  return { name: t.name, virtual_hosts: [{ name: virtualHostName(t.host, t.port.port), domains, routes }] };
}

function grpcCluster(registry: Registry, proxy: ProxyInfo, name: string): Obj | undefined {
  const parsed = parseClusterName(name);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const svc = registry.service(parsed.host, proxy.namespace);
  const port = svc?.ports.find((p) => p.port === parsed.port);
  if (!svc || !port) return undefined;
  const dr = registry.destinationRule(svc.hostname, proxy.namespace, svc.namespace);
  let subsetPolicy;
  if (parsed.subset) {
    const s = dr?.spec.subsets?.find((x) => x.name === parsed.subset);
    if (!s) return undefined;
    subsetPolicy = s.trafficPolicy;
  }
  return outboundCluster(registry, svc, port, parsed.subset || undefined, subsetPolicy, dr?.spec.trafficPolicy, 'grpc');
}

/**
 * Resources of one type for a proxyless gRPC client, for exactly the requested names (names that
 * resolve to nothing are left out: the client reports them as absent). typeUrl is one of TYPE.*.
 */
export function translateForGrpc(snapshot: ConfigSnapshot, proxy: ProxyInfo, typeUrl: string, requestedNames: readonly string[]): Map<string, object> {
  const registry = registryFor(snapshot);
  const p = withWorkload(proxy, snapshot);
  const out = new Map<string, object>();
  for (const name of new Set(requestedNames)) {
    let res: Obj | undefined;
    const server = typeUrl === TYPE.listener ? serverAddress(name) : undefined;
    if (server) {
      res = grpcServerListener(name, server.ip, server.port);
    } else if (typeUrl === TYPE.listener || typeUrl === TYPE.route) {
      const t = resolveGrpcTarget(registry, p, name);
      if (t) res = typeUrl === TYPE.listener ? grpcListener(t) : grpcRouteConfig(registry, p, t);
    } else if (typeUrl === TYPE.cluster) {
      res = grpcCluster(registry, p, name);
    } else if (typeUrl === TYPE.endpoint) {
      res = grpcCluster(registry, p, name) ? outboundLoadAssignment(registry, name, p.namespace, p.locality) : undefined;
    }
    if (res) out.set(name, res);
  }
  return out;
}
