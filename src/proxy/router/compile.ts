// RouteConfiguration -> virtual host selector + ordered route matchers, compiled once per push.
// Nothing here allocates or compiles per request; matching is a walk over closures made here.
import { ConfigError, type Obj, anyType, arr, bool, durationMs, isObj, num, obj, str } from '../wire.js';
import type { ClusterSlot } from '../upstream/cluster.js';
import { type HeaderOp, compileHeaderOps, hasFormattedOps } from './headers.js';
import { type RequestPredicate, compileHeaderMatcher, compileQueryMatcher, compileRegex } from './matchers.js';
import type { RequestView } from './request.js';
import { NO_RETRY, type RetryPolicy, compileRetryPolicy } from './retry.js';
import { type CompiledHashPolicy, compileHashPolicy } from './hash-policy.js';

export interface MirrorPolicy {
  readonly cluster: ClusterSlot;
  /** Share of requests mirrored, 0..1. */
  readonly fraction: number;
  /** Envoy appends "-shadow" to the host unless disable_shadow_host_suffix_append. */
  readonly suffix: boolean;
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** FractionalPercent -> 0..1 (absent: `def`). */
export function fraction(v: unknown, path: string, def: number): number {
  if (!isObj(v)) return def;
  const den = DENOMINATORS[str(v.denominator, `${path}.denominator`, 'HUNDRED')];
  if (!den) throw new ConfigError(`${path}.denominator`, `unknown ${String(v.denominator)}`);
  return Math.min(1, num(v.numerator, `${path}.numerator`, 0) / den);
}

export interface WeightedTarget {
  readonly cluster: ClusterSlot;
  readonly weight: number;
  readonly requestOps: readonly HeaderOp[];
  readonly responseOps: readonly HeaderOp[];
}

export type RouteAction =
  | { readonly kind: 'cluster'; readonly cluster: ClusterSlot }
  | { readonly kind: 'weighted'; readonly targets: readonly WeightedTarget[]; readonly total: number }
  | { readonly kind: 'redirect'; readonly status: number; readonly scheme?: string; readonly host?: string; readonly port?: number; readonly path?: string; readonly prefixRewrite?: string; readonly stripQuery: boolean }
  | { readonly kind: 'direct'; readonly status: number; readonly body: string };

export interface CompiledRoute {
  readonly name: string;
  readonly virtualHost: string;
  readonly match: RequestPredicate;
  readonly action: RouteAction;
  /** Route, then virtual host, then route configuration level (Envoy's default order). */
  readonly requestOps: readonly HeaderOp[];
  readonly responseOps: readonly HeaderOp[];
  /** Some request header op (route or weighted cluster) has a %FORMATTER%: the stream binds its context. */
  readonly formatsRequestHeaders: boolean;
  /** typed_per_filter_config by filter name (route overrides virtual host), parsed by the filter's factory when known. */
  readonly perFilterConfig: ReadonlyMap<string, unknown>;
  /** 0 = no timeout. */
  readonly timeoutMs: number;
  /** RouteAction.idle_timeout: overrides the HCM's stream_idle_timeout (0 = none); undefined = the HCM's. */
  readonly idleTimeoutMs: number | undefined;
  /** max_stream_duration.grpc_timeout_header_max: undefined = ignore grpc-timeout; 0 = no cap. */
  readonly grpcTimeoutMaxMs: number | undefined;
  readonly prefix?: string;
  readonly prefixRewrite?: string;
  readonly regexRewrite?: { re: RegExp; substitution: string };
  readonly hostRewrite?: string;
  readonly retry: RetryPolicy;
  readonly hashPolicy: CompiledHashPolicy | null;
  readonly mirrors: readonly MirrorPolicy[];
  /** Virtual host include_request_attempt_count / include_attempt_count_in_response. */
  readonly attemptCountToUpstream: boolean;
  readonly attemptCountToDownstream: boolean;
  readonly resource: Obj;
}

interface VirtualHost {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];
}

export interface CompiledRouteConfig {
  readonly name: string;
  readonly resource: Obj;
  /** The first matching route, or null (404 NR). */
  route(req: RequestView): CompiledRoute | null;
}

export interface RouteCompileDeps {
  clusterSlot(name: string): ClusterSlot;
  /** Parses one typed_per_filter_config entry; returns the raw value when no filter knows the type. */
  parsePerRoute(filterName: string, config: Obj, path: string): unknown;
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

function pathPredicate(m: Obj, path: string): { pred: RequestPredicate; prefix?: string } {
  const cs = bool(m.case_sensitive, `${path}.case_sensitive`, true);
  const low = (s: string): string => (cs ? s : s.toLowerCase());
  if (typeof m.prefix === 'string') {
    const p = low(m.prefix);
    return { pred: cs ? (r) => r.pathOnly.startsWith(p) : (r) => r.pathOnly.toLowerCase().startsWith(p), prefix: m.prefix };
  }
  if (typeof m.path === 'string') {
    const p = low(m.path);
    return { pred: cs ? (r) => r.pathOnly === p : (r) => r.pathOnly.toLowerCase() === p };
  }
  if (typeof m.path_separated_prefix === 'string') {
    const p = m.path_separated_prefix;
    if (p.endsWith('/') || p.includes('?') || p.includes('#')) throw new ConfigError(`${path}.path_separated_prefix`, 'must not end in / or contain ? or #');
    const pl = low(p);
    return {
      pred: (r) => {
        const v = cs ? r.pathOnly : r.pathOnly.toLowerCase();
        return v.startsWith(pl) && (v.length === pl.length || v.charCodeAt(pl.length) === 47);
      },
      prefix: p,
    };
  }
  if (m.safe_regex !== undefined) {
    const re = compileRegex(str(obj(m.safe_regex, `${path}.safe_regex`).regex, `${path}.safe_regex.regex`), `${path}.safe_regex.regex`, cs ? '' : 'i');
    return { pred: (r) => re.test(r.pathOnly) };
  }
  if (m.connect_matcher !== undefined) return { pred: (r) => r.method === 'CONNECT' };
  throw new ConfigError(path, 'route match needs one of prefix, path, safe_regex, path_separated_prefix, connect_matcher');
}

function compileMatch(m: Obj, path: string): { pred: RequestPredicate; prefix?: string } {
  const { pred: pathPred, prefix } = pathPredicate(m, path);
  const preds: RequestPredicate[] = [pathPred];
  for (const [i, h] of arr(m.headers, `${path}.headers`).entries()) preds.push(compileHeaderMatcher(obj(h, `${path}.headers[${i}]`), `${path}.headers[${i}]`));
  for (const [i, q] of arr(m.query_parameters, `${path}.query_parameters`).entries()) preds.push(compileQueryMatcher(obj(q, `${path}.query_parameters[${i}]`), `${path}.query_parameters[${i}]`));
  if (m.grpc !== undefined) preds.push((r) => String(r.headers['content-type'] ?? '').startsWith('application/grpc'));
  if (preds.length === 1) return { pred: pathPred, prefix };
  return {
    pred: (r) => {
      for (let i = 0; i < preds.length; i++) if (!preds[i](r)) return false;
      return true;
    },
    prefix,
  };
}

function compilePerFilter(levels: Obj[], deps: RouteCompileDeps, path: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const level of levels) {
    for (const [name, v] of Object.entries(obj(level.typed_per_filter_config, `${path}.typed_per_filter_config`))) {
      const p = `${path}.typed_per_filter_config[${name}]`;
      let cfg = obj(v, p);
      // envoy.config.route.v3.FilterConfig wraps the real config (and may mark it optional or disabled).
      if (anyType(cfg).endsWith('envoy.config.route.v3.FilterConfig')) cfg = obj(cfg.config, `${p}.config`);
      out.set(name, deps.parsePerRoute(name, cfg, p));
    }
  }
  return out;
}

function compileAction(r: Obj, deps: RouteCompileDeps, path: string): { action: RouteAction; ra?: Obj } {
  if (isObj(r.direct_response)) {
    const d = r.direct_response;
    const body = obj(d.body, `${path}.direct_response.body`);
    let text = str(body.inline_string, `${path}.direct_response.body.inline_string`);
    // bytes arrive as base64 in JSON form, as a Uint8Array from the protobuf decoder.
    if (typeof body.inline_bytes === 'string') text = Buffer.from(body.inline_bytes, 'base64').toString();
    else if (body.inline_bytes instanceof Uint8Array) text = Buffer.from(body.inline_bytes).toString();
    return { action: { kind: 'direct', status: num(d.status, `${path}.direct_response.status`, 200), body: text } };
  }
  if (isObj(r.redirect)) {
    const d = r.redirect;
    const p = `${path}.redirect`;
    const code = str(d.response_code, `${p}.response_code`, 'MOVED_PERMANENTLY');
    const status = REDIRECT_CODES[code];
    if (!status) throw new ConfigError(`${p}.response_code`, `unknown ${code}`);
    const scheme = bool(d.https_redirect, `${p}.https_redirect`, false) ? 'https' : str(d.scheme_redirect, `${p}.scheme_redirect`) || undefined;
    const port = d.port_redirect === undefined ? undefined : num(d.port_redirect, `${p}.port_redirect`, 0);
    return {
      action: {
        kind: 'redirect', status, scheme, port,
        host: str(d.host_redirect, `${p}.host_redirect`) || undefined,
        path: str(d.path_redirect, `${p}.path_redirect`) || undefined,
        prefixRewrite: typeof d.prefix_rewrite === 'string' ? d.prefix_rewrite : undefined,
        stripQuery: bool(d.strip_query, `${p}.strip_query`, false),
      },
    };
  }
  const ra = obj(r.route, `${path}.route`);
  if (!isObj(r.route)) throw new ConfigError(path, 'route needs one of route, redirect, direct_response');
  if (typeof ra.cluster === 'string' && ra.cluster) return { action: { kind: 'cluster', cluster: deps.clusterSlot(ra.cluster) }, ra };
  if (isObj(ra.weighted_clusters)) {
    const wp = `${path}.route.weighted_clusters`;
    const targets: WeightedTarget[] = [];
    for (const [i, c] of arr(ra.weighted_clusters.clusters, `${wp}.clusters`).entries()) {
      const cp = `${wp}.clusters[${i}]`;
      const co = obj(c, cp);
      const name = str(co.name, `${cp}.name`);
      if (!name) throw new ConfigError(`${cp}.name`, 'missing');
      targets.push({
        cluster: deps.clusterSlot(name),
        weight: num(co.weight, `${cp}.weight`, 0),
        requestOps: compileHeaderOps(co, 'request_headers_to_add', 'request_headers_to_remove', cp),
        responseOps: compileHeaderOps(co, 'response_headers_to_add', 'response_headers_to_remove', cp),
      });
    }
    const sum = targets.reduce((a, t) => a + t.weight, 0);
    if (targets.length === 0 || sum <= 0) throw new ConfigError(wp, 'needs clusters with a positive total weight');
    return { action: { kind: 'weighted', targets, total: sum }, ra };
  }
  if (typeof ra.cluster_header === 'string') throw new ConfigError(`${path}.route.cluster_header`, 'not supported');
  throw new ConfigError(`${path}.route`, 'needs cluster or weighted_clusters');
}

/** Route timeout (default 15 s), capped by max_stream_duration.max_stream_duration when set. */
function routeTimeoutMs(ra: Obj, path: string): number {
  const t = durationMs(ra.timeout, `${path}.route.timeout`) ?? 15_000;
  const msd = isObj(ra.max_stream_duration) ? durationMs(ra.max_stream_duration.max_stream_duration, `${path}.route.max_stream_duration.max_stream_duration`) ?? 0 : 0;
  return msd > 0 && (t === 0 || msd < t) ? msd : t;
}

function compileRoute(r: Obj, vh: Obj, rc: Obj, deps: RouteCompileDeps, vhName: string, path: string): CompiledRoute {
  const { pred, prefix } = compileMatch(obj(r.match, `${path}.match`), `${path}.match`);
  const { action, ra } = compileAction(r, deps, path);
  const levels: [Obj, string][] = [[r, path], [vh, `VirtualHost ${vhName}`], [rc, 'RouteConfiguration']];
  const requestOps = levels.flatMap(([o, p]) => compileHeaderOps(o, 'request_headers_to_add', 'request_headers_to_remove', p));
  const responseOps = levels.flatMap(([o, p]) => compileHeaderOps(o, 'response_headers_to_add', 'response_headers_to_remove', p));
  let regexRewrite: CompiledRoute['regexRewrite'];
  if (ra && isObj(ra.regex_rewrite)) {
    const rp = `${path}.route.regex_rewrite`;
    const src = str(obj(ra.regex_rewrite.pattern, `${rp}.pattern`).regex, `${rp}.pattern.regex`);
    let re: RegExp;
    try {
      re = new RegExp(src.replace(/\(\?P</g, '(?<'), 'g');
    } catch (e) {
      throw new ConfigError(`${rp}.pattern.regex`, `invalid regex: ${e instanceof Error ? e.message : String(e)}`);
    }
    regexRewrite = { re, substitution: str(ra.regex_rewrite.substitution, `${rp}.substitution`).replace(/\\(\d)/g, '$$$1') };
  }
  const retryPath = ra && isObj(ra.retry_policy) ? `${path}.route.retry_policy` : `VirtualHost ${vhName}.retry_policy`;
  const retry = ra ? compileRetryPolicy(isObj(ra.retry_policy) ? ra.retry_policy : vh.retry_policy, retryPath) : NO_RETRY;
  const mirrors: MirrorPolicy[] = ra ? arr(ra.request_mirror_policies, `${path}.route.request_mirror_policies`).map((m, i) => {
    const mp = `${path}.route.request_mirror_policies[${i}]`;
    const o = obj(m, mp);
    const name = str(o.cluster, `${mp}.cluster`);
    if (!name) throw new ConfigError(`${mp}.cluster`, 'missing');
    return {
      cluster: deps.clusterSlot(name),
      fraction: fraction(obj(o.runtime_fraction, `${mp}.runtime_fraction`).default_value, `${mp}.runtime_fraction.default_value`, 1),
      suffix: !bool(o.disable_shadow_host_suffix_append, `${mp}.disable_shadow_host_suffix_append`, false),
    };
  }) : [];
  return {
    name: str(r.name, `${path}.name`),
    virtualHost: vhName,
    match: pred,
    action,
    requestOps,
    responseOps,
    formatsRequestHeaders: hasFormattedOps(requestOps) || (action.kind === 'weighted' && action.targets.some((t) => hasFormattedOps(t.requestOps))),
    perFilterConfig: compilePerFilter([vh, r], deps, path),
    timeoutMs: ra ? routeTimeoutMs(ra, path) : 0,
    idleTimeoutMs: ra ? durationMs(ra.idle_timeout, `${path}.route.idle_timeout`) : undefined,
    grpcTimeoutMaxMs: ra && isObj(ra.max_stream_duration) ? durationMs(ra.max_stream_duration.grpc_timeout_header_max, `${path}.route.max_stream_duration.grpc_timeout_header_max`) : undefined,
    prefix,
    prefixRewrite: ra && typeof ra.prefix_rewrite === 'string' ? ra.prefix_rewrite : undefined,
    regexRewrite,
    hostRewrite: ra ? str(ra.host_rewrite_literal, `${path}.route.host_rewrite_literal`) || undefined : undefined,
    retry,
    hashPolicy: ra ? compileHashPolicy(ra.hash_policy, `${path}.route.hash_policy`) : null,
    mirrors,
    attemptCountToUpstream: bool(vh.include_request_attempt_count, `VirtualHost ${vhName}.include_request_attempt_count`, false),
    attemptCountToDownstream: bool(vh.include_attempt_count_in_response, `VirtualHost ${vhName}.include_attempt_count_in_response`, false),
    resource: r,
  };
}

/** Compiles one RouteConfiguration. Throws ConfigError naming the field. */
export function compileRouteConfig(rc: Obj, deps: RouteCompileDeps, path: string): CompiledRouteConfig {
  const exact = new Map<string, VirtualHost>();
  const suffixes: [string, VirtualHost][] = [];
  const prefixes: [string, VirtualHost][] = [];
  let fallback: VirtualHost | null = null;
  for (const [i, v] of arr(rc.virtual_hosts, `${path}.virtual_hosts`).entries()) {
    const vp = `${path}.virtual_hosts[${i}]`;
    const vh = obj(v, vp);
    const name = str(vh.name, `${vp}.name`) || `vhost_${i}`;
    const routes = arr(vh.routes, `${vp}.routes`).map((r, j) => compileRoute(obj(r, `${vp}.routes[${j}]`), vh, rc, deps, name, `${vp}.routes[${j}]`));
    const host: VirtualHost = { name, routes };
    for (const [j, d] of arr(vh.domains, `${vp}.domains`).entries()) {
      const domain = str(d, `${vp}.domains[${j}]`).toLowerCase();
      const dup = (): never => {
        throw new ConfigError(`${vp}.domains[${j}]`, `domain ${JSON.stringify(domain)} is already used by another virtual host`);
      };
      if (domain === '*') {
        if (fallback) dup();
        fallback = host;
      } else if (domain.startsWith('*')) {
        if (suffixes.some(([s]) => s === domain.slice(1))) dup();
        suffixes.push([domain.slice(1), host]);
      } else if (domain.endsWith('*')) {
        if (prefixes.some(([s]) => s === domain.slice(0, -1))) dup();
        prefixes.push([domain.slice(0, -1), host]);
      } else {
        if (exact.has(domain)) dup();
        exact.set(domain, host);
      }
    }
  }
  suffixes.sort((a, b) => b[0].length - a[0].length);
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const wild = (host: string): VirtualHost | null => {
    for (const [s, vh] of suffixes) if (host.length > s.length && host.endsWith(s)) return vh;
    for (const [p, vh] of prefixes) if (host.length > p.length && host.startsWith(p)) return vh;
    return null;
  };
  const findHost = (authority: string): VirtualHost | null => {
    const hit = exact.get(authority);
    if (hit) return hit;
    // Retry without the port (Istio lists both "reviews" and "reviews:9080").
    const colon = authority.lastIndexOf(':');
    const bare = colon > 0 && authority.indexOf(']', colon) < 0 ? authority.slice(0, colon) : undefined;
    if (bare !== undefined) {
      const b = exact.get(bare);
      if (b) return b;
    }
    return wild(authority) ?? (bare !== undefined ? wild(bare) : null) ?? fallback;
  };
  return {
    name: str(rc.name, `${path}.name`),
    resource: rc,
    route(req: RequestView): CompiledRoute | null {
      const vh = findHost(req.authority);
      if (!vh) return null;
      const routes = vh.routes;
      for (let i = 0; i < routes.length; i++) if (routes[i].match(req)) return routes[i];
      return null;
    },
  };
}
