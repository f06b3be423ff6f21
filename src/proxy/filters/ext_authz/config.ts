// envoy.extensions.filters.http.ext_authz.v3.ExtAuthz, HTTP service mode, compiled once per push:
// the authorizer's cluster, path prefix and timeout, which request headers go to it, which of its
// response headers go upstream (allowed) or to the client (denied), failure mode, and the
// `filter_enabled_metadata` that limits the check to requests an RBAC shadow policy marked (Istio CUSTOM).
import { ConfigError, type Obj, arr, bool, durationMs, isObj, num, obj, str } from '../../wire.js';
import { compileStringMatcher, type StringPredicate } from '../../router/matchers.js';
import type { HttpFilterFactory } from '../types.js';
import { ExtAuthzFilter } from './filter.js';

export const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';
export const EXT_AUTHZ_FILTER_NAME = 'envoy.filters.http.ext_authz';

/** A ListStringMatcher: undefined when the list was not set (Envoy's defaults apply then). */
export type HeaderList = ((name: string) => boolean) | undefined;

export interface EnabledMetadata { readonly filter: string; readonly path: readonly string[]; readonly matches: StringPredicate | null; readonly invert: boolean }

export interface ExtAuthzConfig {
  readonly cluster: string;
  /** Host header of the check request (the host of server_uri.uri). */
  readonly authority: string;
  readonly pathPrefix: string;
  readonly timeoutMs: number;
  readonly allowedHeaders: HeaderList;
  readonly headersToAdd: readonly { key: string; value: string }[];
  readonly upstreamHeaders: HeaderList;
  readonly upstreamHeadersToAppend: HeaderList;
  readonly clientHeaders: HeaderList;
  readonly clientHeadersOnSuccess: HeaderList;
  readonly failureModeAllow: boolean;
  readonly statusOnError: number;
  readonly enabledMetadata: EnabledMetadata | null;
  readonly statPrefix: string;
}

function headerList(v: unknown, path: string): HeaderList {
  if (v === undefined || v === null) return undefined;
  const preds = arr(obj(v, path).patterns, `${path}.patterns`).map((p, i) => compileStringMatcher(obj(p, `${path}.patterns[${i}]`), `${path}.patterns[${i}]`));
  return (name) => preds.some((p) => p(name));
}

/** envoy.type.v3.HttpStatus: a number, or a StatusCode enum name (Forbidden, ServiceUnavailable...). */
const STATUS_NAMES: Record<string, number> = { Forbidden: 403, Unauthorized: 401, ServiceUnavailable: 503, InternalServerError: 500, BadRequest: 400, NotFound: 404, OK: 200 };

function httpStatus(v: unknown, path: string, def: number): number {
  if (v === undefined || v === null) return def;
  const code = isObj(v) ? v.code : v;
  if (typeof code === 'string') {
    const n = STATUS_NAMES[code] ?? Number(code);
    if (!Number.isInteger(n)) throw new ConfigError(path, `unknown HTTP status ${code}`);
    return n;
  }
  const n = num(code, path, def);
  if (!Number.isInteger(n) || n < 200 || n > 599) throw new ConfigError(path, `HTTP status ${n} out of range`);
  return n;
}

function enabledMetadata(v: unknown, path: string): EnabledMetadata | null {
  if (v === undefined || v === null) return null;
  const m = obj(v, path);
  const filter = str(m.filter, `${path}.filter`);
  if (!filter) throw new ConfigError(`${path}.filter`, 'missing');
  const keys = arr(m.path, `${path}.path`).map((s, i) => str(obj(s, `${path}.path[${i}]`).key, `${path}.path[${i}].key`));
  const value = obj(m.value, `${path}.value`);
  let matches: StringPredicate | null = null;
  if (isObj(value.string_match)) matches = compileStringMatcher(value.string_match, `${path}.value.string_match`);
  else if (!bool(value.present_match, `${path}.value.present_match`, false)) throw new ConfigError(`${path}.value`, 'only string_match and present_match are supported');
  return { filter, path: keys, matches, invert: bool(m.invert, `${path}.invert`, false) };
}

export function parseExtAuthz(c: Obj, path: string): ExtAuthzConfig {
  if (c.grpc_service !== undefined) throw new ConfigError(`${path}.grpc_service`, 'the gRPC authorization service is not supported yet; use http_service (Istio envoyExtAuthzHttp)');
  const hs = obj(c.http_service, `${path}.http_service`);
  if (!isObj(c.http_service)) throw new ConfigError(`${path}.http_service`, 'missing: ext_authz needs http_service');
  const su = obj(hs.server_uri, `${path}.http_service.server_uri`);
  const cluster = str(su.cluster, `${path}.http_service.server_uri.cluster`);
  if (!cluster) throw new ConfigError(`${path}.http_service.server_uri.cluster`, 'missing');
  const uri = str(su.uri, `${path}.http_service.server_uri.uri`);
  let authority = '';
  try {
    authority = uri ? new URL(uri).host : '';
  } catch {
    throw new ConfigError(`${path}.http_service.server_uri.uri`, `not a URL: ${uri}`);
  }
  const req = obj(hs.authorization_request, `${path}.http_service.authorization_request`);
  const res = obj(hs.authorization_response, `${path}.http_service.authorization_response`);
  const rp = `${path}.http_service.authorization_response`;
  return {
    cluster,
    authority,
    pathPrefix: str(hs.path_prefix, `${path}.http_service.path_prefix`),
    timeoutMs: durationMs(su.timeout, `${path}.http_service.server_uri.timeout`) ?? 200, // Envoy's default
    // allowed_headers (top level, current Envoy) or authorization_request.allowed_headers (older).
    allowedHeaders: headerList(c.allowed_headers ?? req.allowed_headers, `${path}.allowed_headers`),
    headersToAdd: arr(req.headers_to_add, `${path}.http_service.authorization_request.headers_to_add`).map((h, i) => {
      const hp = `${path}.http_service.authorization_request.headers_to_add[${i}]`;
      const o = obj(h, hp);
      const hv = isObj(o.header) ? o.header : o;
      return { key: str(hv.key, `${hp}.key`).toLowerCase(), value: str(hv.value, `${hp}.value`) };
    }),
    upstreamHeaders: headerList(res.allowed_upstream_headers, `${rp}.allowed_upstream_headers`),
    upstreamHeadersToAppend: headerList(res.allowed_upstream_headers_to_append, `${rp}.allowed_upstream_headers_to_append`),
    clientHeaders: headerList(res.allowed_client_headers, `${rp}.allowed_client_headers`),
    clientHeadersOnSuccess: headerList(res.allowed_client_headers_on_success, `${rp}.allowed_client_headers_on_success`),
    failureModeAllow: bool(c.failure_mode_allow, `${path}.failure_mode_allow`, false),
    statusOnError: httpStatus(c.status_on_error, `${path}.status_on_error`, 403),
    enabledMetadata: enabledMetadata(c.filter_enabled_metadata, `${path}.filter_enabled_metadata`),
    statPrefix: str(c.stat_prefix, `${path}.stat_prefix`),
  };
}

/** ExtAuthzPerRoute: `disabled: true` turns the check off on a route. */
function parsePerRoute(c: Obj, path: string): { disabled: boolean } {
  return { disabled: bool(c.disabled, `${path}.disabled`, false) };
}

export const extAuthzFactory: HttpFilterFactory<ExtAuthzConfig> = {
  name: EXT_AUTHZ_FILTER_NAME,
  configTypes: [EXT_AUTHZ_TYPE],
  perRouteTypes: [EXT_AUTHZ_PER_ROUTE_TYPE],
  parseConfig: parseExtAuthz,
  parsePerRoute,
  create: (config) => new ExtAuthzFilter(config),
};
