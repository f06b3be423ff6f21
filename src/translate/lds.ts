// Listeners. Sidecar: virtualOutbound (ADDRESS:15001, original destination), one `0.0.0.0_<port>`
// per outbound service port (not bound, handed connections by port), one `<ADDRESS>_<port>` inbound
// listener per workload port. Gateway: `0.0.0.0_<port>` on the mapped host port.
import type { Workload } from '../model/index.js';
import { isHttpProtocol, gatewayHostPort, type MeshService, type OutboundScope, type Registry, type Protocol } from '../registry/index.js';
import type { ProxyInfo } from './proxy.js';
import { tcpProxyConfig } from './tcp.js';
import { FILTER, socketAddress, type Obj } from './envoy.js';
import { hasOwnCluster } from './cds.js';
import type { InboundAuthz } from './authz/index.js';
import { filterNeeds, hcmFilter, httpConnectionManager, httpFilters, tcpProxyFilter, type FilterNeeds } from './filters.js';
import { BLACKHOLE_CLUSTER, DEFAULT_ROUTE_NAME, PASSTHROUGH_CLUSTER, VIRTUAL_OUTBOUND_LISTENER, VIRTUAL_OUTBOUND_PORT,
  gatewayRouteName, inboundClusterName, inboundListenerName, outboundListenerName, sidecarRouteName } from './names.js';

/** An outbound port: HTTP, or TCP owned by one service (several TCP services on a port cannot be told apart). */
export interface OutboundPort { port: number; http: boolean; tcpService?: MeshService }

/** Outbound ports seen by a namespace: HTTP when any service speaks HTTP there; TCP ports go to their only service. */
export function outboundPorts(scope: OutboundScope): OutboundPort[] {
  const byPort = new Map<number, { http: boolean; tcp: MeshService[] }>();
  for (const svc of scope.services) {
    if (!hasOwnCluster(svc)) continue;
    for (const p of svc.ports) {
      let e = byPort.get(p.port);
      if (!e) byPort.set(p.port, (e = { http: false, tcp: [] }));
      if (isHttpProtocol(p.protocol)) e.http = true;
      else e.tcp.push(svc);
    }
  }
  return [...byPort.entries()].sort((a, b) => a[0] - b[0]).map(([port, e]) => ({
    port, http: e.http, tcpService: !e.http && e.tcp.length === 1 ? e.tcp[0] : undefined,
  }));
}

export function virtualOutboundListener(address: string, policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): Obj {
  const cluster = policy === 'ALLOW_ANY' ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER;
  return {
    name: VIRTUAL_OUTBOUND_LISTENER,
    address: socketAddress(address, VIRTUAL_OUTBOUND_PORT),
    filter_chains: [{ name: cluster, filters: [tcpProxyFilter(cluster, cluster)] }],
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
  };
}

/**
 * `0.0.0.0_<port>`: HCM with RDS `<port>` (HTTP) or tcp_proxy (TCP); never bound itself. `needs`:
 * what the port's route config needs of the HTTP filters (filterNeeds).
 */
export function outboundPortListener(registry: Registry, proxy: ProxyInfo, scope: OutboundScope, p: OutboundPort, needs: FilterNeeds | undefined): Obj {
  const name = outboundListenerName(p.port);
  const statPrefix = `outbound_${name}`;
  const filter = p.http
    ? hcmFilter(httpConnectionManager({ statPrefix, rds: sidecarRouteName(p.port), httpFilters: httpFilters('sidecar-outbound', needs ?? { fault: false, cors: false }) }))
    : p.tcpService ? { name: FILTER.tcpProxy, typed_config: tcpProxyConfig(registry, proxy, p.tcpService, p.port, statPrefix) }
      : tcpProxyFilter(statPrefix, scope.outboundTrafficPolicy === 'ALLOW_ANY' ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER);
  return {
    name,
    address: socketAddress('0.0.0.0', p.port),
    filter_chains: [{ filters: [filter] }],
    bind_to_port: { value: false },
    traffic_direction: 'OUTBOUND',
  };
}

export interface InboundPort { port: number; appPort: number; protocol: Protocol }

/** Inbound ports of a workload (the values of its ports map) with the protocol of the services selecting it. */
export function inboundPorts(registry: Registry, workload: Workload): InboundPort[] {
  const ports = [...new Set(Object.values(workload.ports))].sort((a, b) => a - b);
  return ports.map((port) => {
    // HTTP unless every service port served here says otherwise (then the first one's protocol).
    const served: Protocol[] = [];
    for (const { service, endpoint } of registry.endpointsAt(workload.address)) {
      if (service.namespace !== workload.namespace || endpoint.port !== port) continue;
      const sp = service.ports.find((p) => p.port === endpoint.servicePort);
      if (sp) served.push(sp.protocol);
    }
    const protocol: Protocol = served.find((x) => isHttpProtocol(x)) ?? served[0] ?? 'UNSUPPORTED';
    return { port, appPort: workload.appPort ?? port, protocol };
  });
}

/** `<ADDRESS>_<port>` with an inline route `inbound|<port>||` to the inbound cluster. */
export function inboundListener(address: string, p: InboundPort, authz?: InboundAuthz): Obj {
  const name = inboundListenerName(address, p.port);
  const cluster = inboundClusterName(p.port);
  const statPrefix = `inbound_${name}`;
  const filter = isHttpProtocol(p.protocol)
    ? hcmFilter(httpConnectionManager({
      statPrefix,
      routeConfig: {
        name: cluster,
        virtual_hosts: [{ name: `inbound|http|${p.port}`, domains: ['*'],
          routes: [{ name: DEFAULT_ROUTE_NAME, match: { prefix: '/' }, route: { cluster, timeout: { seconds: '0', nanos: 0 } } }] }],
        validate_clusters: { value: false },
      },
      httpFilters: [...authz?.http ?? [], ...httpFilters('sidecar-inbound', { fault: false, cors: false })],
    }))
    : tcpProxyFilter(statPrefix, cluster);
  const network = isHttpProtocol(p.protocol) ? [] : authz?.network ?? [];
  return { name, address: socketAddress(address, p.port), filter_chains: [{ filters: [...network, filter] }], traffic_direction: 'INBOUND' };
}

/** Gateway listener for a server port, bound on 0.0.0.0 at the mapped host port. */
export function gatewayListener(registry: Registry, port: number, routeConfig: Obj, authzHttp: readonly Obj[] = []): Obj {
  const name = outboundListenerName(port);
  return {
    name,
    address: socketAddress('0.0.0.0', gatewayHostPort(registry.snapshot.mesh, port)),
    filter_chains: [{ filters: [hcmFilter(httpConnectionManager({
      statPrefix: `outbound_${name}`, rds: gatewayRouteName(port),
      httpFilters: [...authzHttp, ...httpFilters('gateway', filterNeeds([routeConfig]))], useRemoteAddress: true,
    }))] }],
    traffic_direction: 'OUTBOUND',
  };
}

