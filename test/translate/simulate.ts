// Traffic simulation over generated xDS (like Istio's pilot/pkg/simulation): pushes a synthetic
// request through listener -> route config -> virtual host -> route with Envoy's matching rules,
// and reports where it lands. A minimal, independent re-implementation for tests.
// simulateWithSidecar (below) runs the same request through the sidecar's compiled router; the
// golden tests require both to agree.
import type { XdsResources } from '../../src/translate/index.js';
import { compileRouteConfig, type CompiledRouteConfig } from '../../src/proxy/router/compile.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walks untyped Envoy JSON
type Obj = Record<string, any>;

export interface SimRequest {
  /** Outbound port: selects listener `0.0.0.0_<port>` (sidecar per-port or gateway server port). */
  port?: number;
  /** Explicit listener name (inbound `<ADDRESS>_<port>`, or a gRPC api_listener `host:port`). */
  listener?: string;
  host: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

export interface SimResult {
  listener?: string;
  routeConfig?: string;
  virtualHost?: string;
  route?: string;
  cluster?: string;
  weighted?: Record<string, number>;
  direct?: number;
  redirect?: Obj;
  /** What went wrong (no listener, no route config, no virtual host, no route, or tcp_proxy). */
  error?: string;
}

function hcmOf(listener: Obj): Obj | undefined {
  const api = listener.api_listener?.api_listener;
  if (api) return api;
  for (const fc of listener.filter_chains ?? []) {
    for (const f of fc.filters ?? []) if (f.name === 'envoy.filters.network.http_connection_manager') return f.typed_config;
  }
  return undefined;
}

/** Envoy's virtual host selection: exact, then longest suffix wildcard, then longest prefix wildcard, then `*`. */
export function selectVirtualHost(vhosts: readonly Obj[], host: string): Obj | undefined {
  const h = host.toLowerCase();
  let best: { vh: Obj; rank: number; len: number } | undefined;
  for (const vh of vhosts) {
    for (const d of (vh.domains ?? []) as string[]) {
      const dl = d.toLowerCase();
      let rank = -1;
      if (dl === h) rank = 3;
      else if (dl === '*') rank = 0;
      else if (dl.startsWith('*') && h.endsWith(dl.slice(1)) && h.length > dl.length - 1) rank = 2;
      else if (dl.endsWith('*') && h.startsWith(dl.slice(0, -1)) && h.length > dl.length - 1) rank = 1;
      if (rank < 0) continue;
      if (!best || rank > best.rank || (rank === best.rank && dl.length > best.len)) best = { vh, rank, len: dl.length };
    }
  }
  return best?.vh;
}

function stringMatches(m: Obj, value: string): boolean {
  const ic = m.ignore_case === true;
  const v = ic ? value.toLowerCase() : value;
  const c = (s: string): string => (ic ? s.toLowerCase() : s);
  if (m.exact !== undefined) return v === c(m.exact);
  if (m.prefix !== undefined) return v.startsWith(c(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(c(m.suffix));
  if (m.contains !== undefined) return v.includes(c(m.contains));
  if (m.safe_regex) return new RegExp(`^(?:${m.safe_regex.regex})$`).test(value);
  return false;
}

function headerMatches(hm: Obj, headers: Record<string, string>): boolean {
  const value = headers[String(hm.name).toLowerCase()];
  let ok: boolean;
  if (hm.present_match !== undefined) ok = value !== undefined;
  else if (value === undefined) ok = false;
  else if (hm.string_match) ok = stringMatches(hm.string_match, value);
  else if (hm.exact_match !== undefined) ok = value === hm.exact_match;
  else ok = true;
  return hm.invert_match ? !ok : ok;
}

export function routeMatches(match: Obj, req: { path: string; headers: Record<string, string> }): boolean {
  const [pathOnly, query = ''] = req.path.split('?', 2);
  const cs = match.case_sensitive?.value !== false;
  const p = cs ? pathOnly : pathOnly.toLowerCase();
  const c = (s: string): string => (cs ? s : s.toLowerCase());
  if (match.prefix !== undefined && !p.startsWith(c(match.prefix))) return false;
  if (match.path !== undefined && p !== c(match.path)) return false;
  if (match.safe_regex && !new RegExp(`^(?:${match.safe_regex.regex})$`, cs ? '' : 'i').test(pathOnly)) return false;
  for (const hm of match.headers ?? []) if (!headerMatches(hm, req.headers)) return false;
  const params = new URLSearchParams(query);
  for (const q of match.query_parameters ?? []) {
    const v = params.get(q.name);
    if (q.present_match) { if (v === null) return false; continue; }
    if (v === null || (q.string_match && !stringMatches(q.string_match, v))) return false;
  }
  return true;
}

export function simulate(r: XdsResources, req: SimRequest): SimResult {
  const listenerName = req.listener ?? `0.0.0.0_${req.port}`;
  const listener = r.listeners.get(listenerName) as Obj | undefined;
  if (!listener) return { error: `no listener ${listenerName}` };
  const hcm = hcmOf(listener);
  if (!hcm) return { listener: listenerName, error: 'listener has no HTTP connection manager (tcp_proxy)' };
  const rcName: string | undefined = hcm.rds?.route_config_name;
  const rc = (rcName !== undefined ? r.routes.get(rcName) : hcm.route_config) as Obj | undefined;
  if (!rc) return { listener: listenerName, error: `no route config ${rcName}` };
  const res: SimResult = { listener: listenerName, routeConfig: rc.name };
  const vh = selectVirtualHost(rc.virtual_hosts ?? [], req.host);
  if (!vh) return { ...res, error: `no virtual host for ${req.host}` };
  res.virtualHost = vh.name;
  const headers: Record<string, string> = { ':authority': req.host, ':method': req.method ?? 'GET', ':path': req.path ?? '/', ':scheme': 'http' };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const route = ((vh.routes ?? []) as Obj[]).find((rt) => routeMatches(rt.match, { path: req.path ?? '/', headers }));
  if (!route) return { ...res, error: 'no route matches' };
  res.route = route.name;
  if (route.route?.cluster) res.cluster = route.route.cluster;
  if (route.route?.weighted_clusters) {
    res.weighted = Object.fromEntries((route.route.weighted_clusters.clusters as Obj[]).map((c) => [c.name, c.weight?.value ?? 0]));
  }
  if (route.direct_response) res.direct = route.direct_response.status;
  if (route.redirect) res.redirect = route.redirect;
  return res;
}

// ---- The same request through the sidecar's own route matcher (src/proxy/router), so translation
// and the data plane cannot drift apart unnoticed.

/** Compiles a RouteConfiguration with the sidecar's compiler; throws its ConfigError when it refuses it. */
export function compileWithSidecar(rc: Obj): CompiledRouteConfig {
  return compileRouteConfig(rc, { clusterSlot: (name: string) => ({ name, current: null }), parsePerRoute: (_n: string, c: Obj) => c }, `RouteConfiguration ${rc.name}`);
}

export function simulateWithSidecar(r: XdsResources, req: SimRequest): SimResult {
  const listenerName = req.listener ?? `0.0.0.0_${req.port}`;
  const listener = r.listeners.get(listenerName) as Obj | undefined;
  const hcm = listener && hcmOf(listener);
  if (!hcm) return { error: `no HTTP listener ${listenerName}` };
  const rc = (hcm.rds ? r.routes.get(hcm.rds.route_config_name) : hcm.route_config) as Obj | undefined;
  if (!rc) return { error: 'no route config' };
  const path = req.path ?? '/';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const route = compileWithSidecar(rc).route({
    method: req.method ?? 'GET', authority: req.host.toLowerCase(), path, pathOnly: path.split('?')[0], scheme: 'http', headers,
  });
  if (!route) return { listener: listenerName, routeConfig: rc.name, error: 'no route matches' };
  const res: SimResult = { listener: listenerName, routeConfig: rc.name, virtualHost: route.virtualHost, route: route.name || undefined };
  const a = route.action;
  if (a.kind === 'cluster') res.cluster = a.cluster.name;
  else if (a.kind === 'weighted') res.weighted = Object.fromEntries(a.targets.map((t) => [t.cluster.name, t.weight]));
  else if (a.kind === 'direct') res.direct = a.status;
  else res.redirect = { status: a.status };
  return res;
}
