// HTTP filter lists per listener kind, and the HTTP connection manager around them. Filters are
// added only where a route needs them (per-route config present), Router always last.
import { TYPES, FILTER, ADS_CONFIG_SOURCE, type Obj } from './envoy.js';

export type ListenerKind = 'sidecar-outbound' | 'sidecar-inbound' | 'gateway' | 'grpc-client' | 'grpc-server';

export interface FilterNeeds { fault: boolean; cors: boolean }

/** Which optional filters the routes of these RouteConfigurations use (via typed_per_filter_config). */
export function filterNeeds(routeConfigs: readonly Obj[]): FilterNeeds {
  const needs: FilterNeeds = { fault: false, cors: false };
  for (const rc of routeConfigs) {
    for (const vh of (rc.virtual_hosts as Obj[] | undefined) ?? []) {
      for (const r of (vh.routes as Obj[] | undefined) ?? []) {
        const pf = r.typed_per_filter_config as Obj | undefined;
        if (!pf) continue;
        if (pf[FILTER.fault]) needs.fault = true;
        if (pf[FILTER.cors]) needs.cors = true;
      }
    }
  }
  return needs;
}

/** The HTTP filter chain for a listener kind. gRPC clients always get [fault, router], as Istio sends; servers [router] (RBAC later). */
export function httpFilters(kind: ListenerKind, needs: FilterNeeds): Obj[] {
  const out: Obj[] = [];
  // The sidecar implements both filters, so they are required (not is_optional) as Istio sends them.
  if (needs.cors && !kind.startsWith('grpc')) out.push({ name: FILTER.cors, typed_config: { '@type': TYPES.cors } });
  if (needs.fault || kind === 'grpc-client') out.push({ name: FILTER.fault, typed_config: { '@type': TYPES.fault } });
  out.push({ name: FILTER.router, typed_config: { '@type': TYPES.router } });
  return out;
}

export interface HcmOptions {
  statPrefix: string;
  /** RDS name (fetched over ADS) ... */
  rds?: string;
  /** ... or an inline RouteConfiguration. */
  routeConfig?: Obj;
  httpFilters: Obj[];
  /** Gateways trust the peer address they see (Istio: use_remote_address). */
  useRemoteAddress?: boolean;
}

export function httpConnectionManager(o: HcmOptions): Obj {
  const hcm: Obj = { '@type': TYPES.hcm, stat_prefix: o.statPrefix };
  if (o.rds !== undefined) hcm.rds = { route_config_name: o.rds, config_source: ADS_CONFIG_SOURCE };
  else if (o.routeConfig) hcm.route_config = o.routeConfig;
  hcm.http_filters = o.httpFilters;
  if (o.useRemoteAddress) {
    hcm.use_remote_address = { value: true };
    // Istio's gateway default (gatewayTopology.forwardClientCertDetails): the gateway replaces any
    // X-Forwarded-Client-Cert a client sent with its own view of the client certificate.
    hcm.forward_client_cert_details = 'SANITIZE_SET';
    hcm.set_current_client_cert_details = { subject: { value: true }, dns: true, uri: true };
  }
  return hcm;
}

export function hcmFilter(hcm: Obj): Obj {
  return { name: FILTER.hcm, typed_config: hcm };
}

export function tcpProxyFilter(statPrefix: string, cluster: string): Obj {
  return { name: FILTER.tcpProxy, typed_config: { '@type': TYPES.tcpProxy, stat_prefix: statPrefix, cluster } };
}
