// Translation: (ConfigSnapshot, proxy) -> Envoy v3 resources. Pure functions; what does not depend
// on the individual proxy is memoized per snapshot (Registry.memo), keyed by what it depends on.
//
//   translate.ts      entry for sidecars and gateways; memo keys (scope, labels when sourceLabels are used)
//   grpc.ts           proxyless gRPC: resources by requested name (client api_listeners, XdsServer listeners)
//   lds.ts            listeners: virtualOutbound, 0.0.0.0_<port>, <ADDRESS>_<port> inbound, gateway ports
//   filters.ts        HTTP filter list per listener kind + HCM builder  <- add RBAC/JWT/telemetry filters here
//   rds.ts            route configurations and virtual hosts (sidecar `<port>`, gateway `http.<port>`)
//   route-match.ts    Istio HTTPMatchRequest -> RouteMatch (proxy-side conditions decided here)
//   route-action.ts   one builder per route concern: destinations, hash policy, timeout, retries,
//                     rewrite, redirect, mirror, fault, CORS, headers  <- add new route features here
//   tcp.ts            VirtualService tcp routes -> tcp_proxy
//   cds.ts            clusters; one builder per DestinationRule concern (LB, connection pool, outlier)
//                     <- add transport_socket (TLS/mTLS) as another applyX(cluster, policy)
//   policy.ts         DestinationRule traffic policy merging (host, port-level, subset)
//   eds.ts            ClusterLoadAssignments (subset filtering, locality grouping with weights)
//   consistency.ts    dangling-reference check over one proxy's resources
//   authz/            AuthorizationPolicy -> RBAC (HTTP + network), RequestAuthentication -> jwt_authn;
//                     lds.ts puts them ahead of the inbound and gateway HTTP filters / tcp_proxy
//   names.ts, envoy.ts, proxy.ts, types.ts   shared names, type URLs and builders, node parsing
export { translate, translateShared, translationWarnings } from './translate.js';
export { translateForGrpc, resolveGrpcTarget, GRPC_SERVER_LISTENER_PREFIX } from './grpc.js';
export { checkConsistency } from './consistency.js';
export type { XdsResources } from './types.js';
export { parseNodeId, withWorkload, type ProxyInfo } from './proxy.js';
export * from './names.js';
