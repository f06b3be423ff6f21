// Istio HTTPRoute -> Envoy Route. One builder per concern (destinations, headers, timeout, retries,
// rewrite, redirect, mirror, fault, CORS) so each feature is added or changed in one place.
import type { Destination, HTTPRoute, HTTPRouteDestination, Headers, HTTPRetry, HTTPFaultInjection, CorsPolicy } from '../model/index.js';
import type { Registry } from '../registry/index.js';
import { outboundClusterName } from './names.js';
import { destinationPolicy } from './policy.js';
import { duration, fractionalPercent, stringMatcher, TYPES, FILTER, ZERO_DURATION, type Obj } from './envoy.js';

export interface RouteContext {
  registry: Registry;
  proxyNamespace: string;
  /** Namespace of the VirtualService: destination short names are relative to it. */
  vsNamespace: string;
  /** Port of the listener being built: the destination port when the service has several. */
  listenerPort: number;
  /** `envoy` for sidecars and gateways; `grpc` restricts output to what proxyless gRPC accepts. */
  flavor: 'envoy' | 'grpc';
}

/** Host and port a VirtualService destination resolves to: explicit port, the service's only port, else the listener port. */
function destinationTarget(d: Destination, ctx: RouteContext): { host: string; port: number } {
  const host = ctx.registry.resolveHost(d.host, ctx.vsNamespace);
  const svc = ctx.registry.service(host, ctx.proxyNamespace);
  const port = d.port?.number ?? (svc && svc.ports.length === 1 ? svc.ports[0].port : ctx.listenerPort);
  return { host, port };
}

export function destinationCluster(d: Destination, ctx: RouteContext): string {
  const t = destinationTarget(d, ctx);
  return outboundClusterName(t.port, d.subset, t.host);
}

/** Route hash policy for a DestinationRule consistentHash (RING_HASH/MAGLEV clusters need one to be sticky). */
export function hashPolicy(registry: Registry, host: string, subset: string | undefined, port: number, proxyNamespace: string,
  flavor: 'envoy' | 'grpc'): Obj[] | undefined {
  const ch = destinationPolicy(registry, host, subset, port, proxyNamespace).loadBalancer?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  if (flavor === 'grpc') return undefined; // gRPC hashes on headers (and channel id) only
  if (ch.httpCookie) {
    const cookie: Obj = { name: ch.httpCookie.name };
    const ttl = duration(ch.httpCookie.ttl);
    if (ttl) cookie.ttl = ttl;
    if (ch.httpCookie.path) cookie.path = ch.httpCookie.path;
    return [{ cookie }];
  }
  if (ch.useSourceIp) return [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

/** One hash policy when every destination agrees on it (Istio cannot hash across differing policies). */
function applyHashPolicy(action: Obj, dests: HTTPRouteDestination[], ctx: RouteContext): void {
  const policies = dests.map((d) => {
    const t = destinationTarget(d.destination, ctx);
    return hashPolicy(ctx.registry, t.host, d.destination.subset, t.port, ctx.proxyNamespace, ctx.flavor);
  });
  const first = policies[0];
  if (first && policies.every((p) => JSON.stringify(p) === JSON.stringify(first))) action.hash_policy = first;
}

function headerOptions(values: Record<string, string> | undefined, append: boolean): Obj[] {
  return Object.entries(values ?? {}).map(([key, value]) => ({
    header: { key, value }, append_action: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
  }));
}

/** Istio headers{request,response}{set,add,remove} onto a Route or a weighted cluster. */
export function applyHeaders(target: Obj, h: Headers | undefined): void {
  if (!h) return;
  const push = (field: string, items: unknown[]): void => {
    if (items.length === 0) return;
    target[field] = [...((target[field] as unknown[] | undefined) ?? []), ...items];
  };
  push('request_headers_to_add', [...headerOptions(h.request?.set, false), ...headerOptions(h.request?.add, true)]);
  push('request_headers_to_remove', h.request?.remove ?? []);
  push('response_headers_to_add', [...headerOptions(h.response?.set, false), ...headerOptions(h.response?.add, true)]);
  push('response_headers_to_remove', h.response?.remove ?? []);
}

/** One destination -> `cluster` (its headers go on the route); several -> `weighted_clusters`. */
function applyDestinations(route: Obj, action: Obj, dests: HTTPRouteDestination[], ctx: RouteContext): void {
  const weighted = dests.length > 1 ? dests.filter((d) => (d.weight ?? 0) > 0) : dests;
  const used = weighted.length > 0 ? weighted : dests;
  if (used.length === 1) {
    action.cluster = destinationCluster(used[0].destination, ctx);
    applyHeaders(route, used[0].headers);
    return;
  }
  action.weighted_clusters = {
    clusters: used.map((d) => {
      const wc: Obj = { name: destinationCluster(d.destination, ctx), weight: { value: d.weight ?? 0 } };
      if (ctx.flavor === 'envoy') applyHeaders(wc, d.headers);
      return wc;
    }),
  };
}

/** Istio disables Envoy's 15 s default route timeout unless the VirtualService sets one. */
function applyTimeout(action: Obj, timeout: string | undefined, ctx: RouteContext): void {
  const d = duration(timeout);
  if (ctx.flavor === 'grpc') {
    if (d) action.max_stream_duration = { max_stream_duration: d, grpc_timeout_header_max: d };
    return;
  }
  action.timeout = d ?? ZERO_DURATION;
}

const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
/** Istio's retries avoid hosts already tried (previous_hosts predicate, 5 host selection attempts). */
const RETRY_HOSTS: Obj = { retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], host_selection_retry_max_attempts: '5' };
/** retryRemoteLocalities: Istio's previous_priorities retry priority (update_frequency 2). */
const PREVIOUS_PRIORITIES: Obj = {
  name: 'envoy.retry_priorities.previous_priorities',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', update_frequency: 2 },
};
const GRPC_RETRY_ON = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

/** Istio's retry policy: 2 attempts by default; numeric retryOn entries become retriable status codes. */
function applyRetries(action: Obj, r: HTTPRetry | undefined, ctx: RouteContext): void {
  if (r?.attempts === 0) return;
  if (ctx.flavor === 'grpc') {
    if (!r) return;
    const on = (r.retryOn ?? 'unavailable').split(',').map((s) => s.trim()).filter((s) => GRPC_RETRY_ON.has(s));
    if (on.length === 0) return;
    action.retry_policy = { retry_on: on.join(','), num_retries: { value: r.attempts ?? 1 } };
    return;
  }
  const policy: Obj = { retry_on: DEFAULT_RETRY_ON, num_retries: { value: r?.attempts ?? 2 }, retriable_status_codes: [503], ...RETRY_HOSTS };
  if (r?.retryOn) {
    const parts = r.retryOn.split(',').map((s) => s.trim()).filter(Boolean);
    const codes = parts.filter((p) => /^\d+$/.test(p)).map(Number);
    const conds = parts.filter((p) => !/^\d+$/.test(p));
    if (codes.length > 0 && !conds.includes('retriable-status-codes')) conds.push('retriable-status-codes');
    policy.retry_on = conds.join(',');
    if (codes.length > 0) policy.retriable_status_codes = codes;
    else delete policy.retriable_status_codes;
  }
  const perTry = duration(r?.perTryTimeout);
  if (perTry) policy.per_try_timeout = perTry;
  if (r?.retryRemoteLocalities) policy.retry_priority = PREVIOUS_PRIORITIES;
  action.retry_policy = policy;
}

function applyRewrite(action: Obj, http: HTTPRoute): void {
  const rw = http.rewrite;
  if (!rw) return;
  if (rw.uriRegexRewrite) action.regex_rewrite = { pattern: { regex: rw.uriRegexRewrite.match }, substitution: rw.uriRegexRewrite.rewrite };
  else if (rw.uri !== undefined) action.prefix_rewrite = rw.uri;
  if (rw.authority) action.host_rewrite_literal = rw.authority;
}

function applyMirrors(action: Obj, http: HTTPRoute, ctx: RouteContext): void {
  const policies: Obj[] = [];
  if (http.mirror?.host) {
    const pct = http.mirrorPercentage?.value ?? http.mirrorPercent ?? http.mirror_percent ?? 100;
    policies.push({ cluster: destinationCluster(http.mirror, ctx), runtime_fraction: { default_value: fractionalPercent(pct) } });
  }
  for (const m of (http.mirrors ?? []).filter((x) => !!x.destination?.host)) {
    policies.push({ cluster: destinationCluster(m.destination, ctx), runtime_fraction: { default_value: fractionalPercent(m.percentage?.value ?? 100) } });
  }
  if (policies.length > 0) action.request_mirror_policies = policies;
}

const REDIRECT_CODES: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };

function redirectAction(http: HTTPRoute): Obj {
  const r = http.redirect ?? {};
  const out: Obj = {};
  if (r.uri !== undefined) out.path_redirect = r.uri;
  if (r.authority) out.host_redirect = r.authority;
  if (r.port) out.port_redirect = r.port;
  if (r.scheme) out.scheme_redirect = r.scheme;
  out.response_code = REDIRECT_CODES[r.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY';
  return out;
}

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** Istio fault -> per-route HTTPFault config (the listener adds the fault filter when any route needs it). */
export function faultConfig(f: HTTPFaultInjection): Obj | undefined {
  const out: Obj = { '@type': TYPES.fault };
  const delay = f.delay;
  const fixed = duration(delay?.fixedDelay);
  if (delay && fixed) out.delay = { fixed_delay: fixed, percentage: fractionalPercent(delay.percentage?.value ?? delay.percent ?? 100) };
  const abort = f.abort;
  if (abort) {
    const a: Obj = { percentage: fractionalPercent(abort.percentage?.value ?? 100) };
    if (abort.httpStatus !== undefined) a.http_status = abort.httpStatus;
    else if (abort.grpcStatus !== undefined) a.grpc_status = GRPC_CODES[abort.grpcStatus.toUpperCase()] ?? Number(abort.grpcStatus);
    if (a.http_status !== undefined || a.grpc_status !== undefined) out.abort = a;
  }
  return out.delay || out.abort ? out : undefined;
}

/** Istio corsPolicy -> per-route CorsPolicy (the listener adds the CORS filter when any route needs it). */
export function corsConfig(c: CorsPolicy): Obj {
  const origins = [...(c.allowOrigins ?? []).map((o) => stringMatcher(o)), ...(c.allowOrigin ?? []).map((o) => (o === '*' ? { prefix: '' } : { exact: o }))]
    .filter((o): o is Obj => !!o);
  const out: Obj = { '@type': TYPES.corsPolicy, allow_origin_string_match: origins };
  if (c.allowMethods?.length) out.allow_methods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) out.allow_headers = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) out.expose_headers = c.exposeHeaders.join(',');
  const maxAge = duration(c.maxAge);
  if (maxAge) out.max_age = String(Math.floor(Number(maxAge.seconds)));
  if (c.allowCredentials !== undefined) out.allow_credentials = { value: c.allowCredentials };
  if (c.unmatchedPreflights === 'IGNORE') out.forward_not_matching_preflights = { value: false };
  return out;
}

/** Builds the Envoy Route for one HTTPRoute and one of its match blocks; undefined when the flavor cannot express it. */
export function buildHttpRoute(http: HTTPRoute, match: Obj, name: string | undefined, ctx: RouteContext): Obj | undefined {
  const route: Obj = {};
  if (name) route.name = name;
  route.match = match;
  if (http.redirect || http.directResponse) {
    if (ctx.flavor === 'grpc') return undefined; // gRPC clients accept only `route` actions
    if (http.redirect) route.redirect = redirectAction(http);
    else if (http.directResponse) {
      const body = http.directResponse.body?.string ?? (http.directResponse.body?.bytes !== undefined ? Buffer.from(http.directResponse.body.bytes, 'base64').toString() : undefined);
      route.direct_response = body !== undefined ? { status: http.directResponse.status, body: { inline_string: body } } : { status: http.directResponse.status };
    }
  } else {
    const dests = (http.route ?? []).filter((d) => !!d.destination?.host);
    if (dests.length === 0) return undefined;
    const action: Obj = {};
    applyDestinations(route, action, dests, ctx);
    applyHashPolicy(action, dests, ctx);
    applyTimeout(action, http.timeout, ctx);
    applyRetries(action, http.retries, ctx);
    if (ctx.flavor === 'envoy') {
      applyRewrite(action, http);
      applyMirrors(action, http, ctx);
    }
    route.route = action;
  }
  if (ctx.flavor === 'envoy') applyHeaders(route, http.headers);
  const perFilter: Obj = {};
  const fault = http.fault ? faultConfig(http.fault) : undefined;
  if (fault) perFilter[FILTER.fault] = fault;
  if (http.corsPolicy && ctx.flavor === 'envoy') perFilter[FILTER.cors] = corsConfig(http.corsPolicy);
  if (Object.keys(perFilter).length > 0) route.typed_per_filter_config = perFilter;
  return reorder(route);
}

/** Keeps Envoy's field order (name, match, action, ...) for readable goldens. */
function reorder(route: Obj): Obj {
  const { name, match, ...rest } = route;
  return name !== undefined ? { name, match, ...rest } : { match, ...rest };
}

/** Istio's default route: everything to one cluster, no VirtualService involved. */
export function defaultRoute(cluster: string, flavor: 'envoy' | 'grpc', hash?: Obj[]): Obj {
  const action: Obj = { cluster };
  if (hash) action.hash_policy = hash;
  if (flavor === 'envoy') {
    action.timeout = ZERO_DURATION;
    action.retry_policy = { retry_on: DEFAULT_RETRY_ON, num_retries: { value: 2 }, retriable_status_codes: [503], ...RETRY_HOSTS };
  }
  return { name: 'default', match: { prefix: '/' }, route: action };
}
