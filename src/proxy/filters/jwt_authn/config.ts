// envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication compiled once per push: providers
// (issuer, audiences, key set, token locations, outputs) and rules (route match -> requirement).
import { ConfigError, type Obj, arr, bool, durationMs, isObj, num, obj, str } from '../../wire.js';
import { compileRegex } from '../../router/matchers.js';
import type { HttpFilterFactory } from '../types.js';
import { InlineJwks, type JwksSource, RemoteJwks } from './jwks.js';
import { VerifiedCache } from './verify.js';
import { JwtAuthnFilter } from './filter.js';

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_FILTER_NAME = 'envoy.filters.http.jwt_authn';

export interface TokenHeader { readonly name: string; readonly prefix: string }

export interface Provider {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwks: JwksSource;
  readonly fromHeaders: readonly TokenHeader[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  /** Keep the token in the forwarded request (Envoy `forward`, default false: removed). */
  readonly forward: boolean;
  readonly forwardPayloadHeader: string;
  readonly claimToHeaders: readonly { header: string; claim: string }[];
  readonly clockSkewSec: number;
  /** Claims whose space-separated string value is a list for RBAC (normalize_payload_in_metadata). */
  readonly spaceDelimitedClaims: readonly string[];
  /** Tokens this provider verified recently (per push). */
  readonly verified: VerifiedCache;
}

export type Requirement =
  | { readonly kind: 'provider'; readonly provider: Provider; readonly audiences: readonly string[] | null }
  | { readonly kind: 'any' | 'all'; readonly of: readonly Requirement[] }
  | { readonly kind: 'allow_missing' | 'allow_missing_or_failed' };

export interface JwtRule {
  readonly matches: (pathOnly: string) => boolean;
  readonly requires: Requirement | null;
}

export interface JwtAuthnConfig {
  readonly providers: ReadonlyMap<string, Provider>;
  readonly rules: readonly JwtRule[];
  readonly bypassCorsPreflight: boolean;
}

/** Envoy's defaults when a provider names no location: `Authorization: Bearer <token>` and `?access_token=`. */
const DEFAULT_HEADERS: readonly TokenHeader[] = [{ name: 'authorization', prefix: 'Bearer ' }];
const DEFAULT_PARAMS: readonly string[] = ['access_token'];

function parseProvider(name: string, p: Obj, path: string): Provider {
  let jwks: JwksSource;
  if (isObj(p.local_jwks)) {
    const inline = str(p.local_jwks.inline_string, `${path}.local_jwks.inline_string`);
    if (!inline) throw new ConfigError(`${path}.local_jwks`, 'only inline_string is supported');
    jwks = new InlineJwks(inline);
  } else if (isObj(p.remote_jwks)) {
    const rp = `${path}.remote_jwks`;
    const httpUri = obj(p.remote_jwks.http_uri, `${rp}.http_uri`);
    const uri = str(httpUri.uri, `${rp}.http_uri.uri`);
    if (!/^https?:\/\//.test(uri)) throw new ConfigError(`${rp}.http_uri.uri`, `not an http(s) URL: ${JSON.stringify(uri)}`);
    const asyncFetch = isObj(p.remote_jwks.async_fetch) ? p.remote_jwks.async_fetch : undefined;
    const remote = new RemoteJwks({
      uri,
      timeoutMs: durationMs(httpUri.timeout, `${rp}.http_uri.timeout`) || 5000,
      cacheMs: durationMs(p.remote_jwks.cache_duration, `${rp}.cache_duration`) ?? 600_000,
      failedRefetchMs: (asyncFetch && durationMs(asyncFetch.failed_refetch_duration, `${rp}.async_fetch.failed_refetch_duration`)) || 1000,
    });
    if (asyncFetch) remote.prefetch();
    jwks = remote;
  } else throw new ConfigError(path, 'needs local_jwks or remote_jwks');
  const fromHeaders = arr(p.from_headers, `${path}.from_headers`).map((h, i) => {
    const o = obj(h, `${path}.from_headers[${i}]`);
    const n = str(o.name, `${path}.from_headers[${i}].name`).toLowerCase();
    if (!n) throw new ConfigError(`${path}.from_headers[${i}].name`, 'missing');
    return { name: n, prefix: str(o.value_prefix, `${path}.from_headers[${i}].value_prefix`) };
  });
  const fromParams = arr(p.from_params, `${path}.from_params`).map((x, i) => str(x, `${path}.from_params[${i}]`));
  const fromCookies = arr(p.from_cookies, `${path}.from_cookies`).map((x, i) => str(x, `${path}.from_cookies[${i}]`));
  const none = fromHeaders.length === 0 && fromParams.length === 0 && fromCookies.length === 0;
  return {
    name,
    issuer: str(p.issuer, `${path}.issuer`),
    audiences: arr(p.audiences, `${path}.audiences`).map((x, i) => str(x, `${path}.audiences[${i}]`)),
    jwks,
    fromHeaders: none ? DEFAULT_HEADERS : fromHeaders,
    fromParams: none ? DEFAULT_PARAMS : fromParams,
    fromCookies,
    forward: bool(p.forward, `${path}.forward`, false),
    forwardPayloadHeader: str(p.forward_payload_header, `${path}.forward_payload_header`).toLowerCase(),
    claimToHeaders: arr(p.claim_to_headers, `${path}.claim_to_headers`).map((x, i) => {
      const o = obj(x, `${path}.claim_to_headers[${i}]`);
      return { header: str(o.header_name, `${path}.claim_to_headers[${i}].header_name`).toLowerCase(), claim: str(o.claim_name, `${path}.claim_to_headers[${i}].claim_name`) };
    }),
    clockSkewSec: num(p.clock_skew_seconds, `${path}.clock_skew_seconds`, 60),
    spaceDelimitedClaims: isObj(p.normalize_payload_in_metadata)
      ? arr(p.normalize_payload_in_metadata.space_delimited_claims, `${path}.normalize_payload_in_metadata.space_delimited_claims`).map((x, i) => str(x, `${path}.normalize_payload_in_metadata.space_delimited_claims[${i}]`))
      : [],
    verified: new VerifiedCache(isObj(p.jwt_cache_config) ? num(p.jwt_cache_config.jwt_cache_size, `${path}.jwt_cache_config.jwt_cache_size`, 100) || 100 : 100),
  };
}

function parseRequirement(r: Obj, providers: ReadonlyMap<string, Provider>, path: string): Requirement {
  const byName = (n: string, p: string): Provider => {
    const pr = providers.get(n);
    if (!pr) throw new ConfigError(p, `unknown provider ${JSON.stringify(n)}`);
    return pr;
  };
  if (typeof r.provider_name === 'string') return { kind: 'provider', provider: byName(r.provider_name, `${path}.provider_name`), audiences: null };
  if (isObj(r.provider_and_audiences)) {
    const pa = r.provider_and_audiences;
    return {
      kind: 'provider',
      provider: byName(str(pa.provider_name, `${path}.provider_and_audiences.provider_name`), `${path}.provider_and_audiences.provider_name`),
      audiences: arr(pa.audiences, `${path}.provider_and_audiences.audiences`).map((x, i) => str(x, `${path}.provider_and_audiences.audiences[${i}]`)),
    };
  }
  for (const kind of ['requires_any', 'requires_all'] as const) {
    if (isObj(r[kind])) {
      const list = arr((r[kind]).requirements, `${path}.${kind}.requirements`);
      return { kind: kind === 'requires_any' ? 'any' : 'all', of: list.map((x, i) => parseRequirement(obj(x, `${path}.${kind}.requirements[${i}]`), providers, `${path}.${kind}.requirements[${i}]`)) };
    }
  }
  if (r.allow_missing !== undefined) return { kind: 'allow_missing' };
  if (r.allow_missing_or_failed !== undefined) return { kind: 'allow_missing_or_failed' };
  throw new ConfigError(path, 'unsupported requirement (want provider_name, provider_and_audiences, requires_any, requires_all, allow_missing, allow_missing_or_failed)');
}

function parseMatch(m: Obj, path: string): (pathOnly: string) => boolean {
  if (arr(m.headers, `${path}.headers`).length > 0 || arr(m.query_parameters, `${path}.query_parameters`).length > 0) {
    throw new ConfigError(path, 'jwt_authn rule matches on headers or query parameters are not supported');
  }
  if (typeof m.prefix === 'string') {
    const x = m.prefix;
    return (p) => p.startsWith(x);
  }
  if (typeof m.path === 'string') {
    const x = m.path;
    return (p) => p === x;
  }
  if (isObj(m.safe_regex)) {
    const re = compileRegex(str(m.safe_regex.regex, `${path}.safe_regex.regex`), `${path}.safe_regex.regex`);
    return (p) => re.test(p);
  }
  throw new ConfigError(path, 'rule match needs prefix, path or safe_regex');
}

export function parseJwtAuthnConfig(config: Obj, path: string): JwtAuthnConfig {
  const providers = new Map<string, Provider>();
  const raw = obj(config.providers, `${path}.providers`);
  for (const name of Object.keys(raw)) providers.set(name, parseProvider(name, obj(raw[name], `${path}.providers[${JSON.stringify(name)}]`), `${path}.providers[${JSON.stringify(name)}]`));
  const rules = arr(config.rules, `${path}.rules`).map((x, i) => {
    const p = `${path}.rules[${i}]`;
    const r = obj(x, p);
    return {
      matches: parseMatch(obj(r.match, `${p}.match`), `${p}.match`),
      requires: isObj(r.requires) ? parseRequirement(r.requires, providers, `${p}.requires`) : null,
    };
  });
  if (config.filter_state_rules !== undefined || config.requirement_map !== undefined) throw new ConfigError(path, 'filter_state_rules and requirement_map are not supported');
  return { providers, rules, bypassCorsPreflight: bool(config.bypass_cors_preflight, `${path}.bypass_cors_preflight`, false) };
}

export const jwtAuthnFactory: HttpFilterFactory<JwtAuthnConfig> = {
  name: JWT_AUTHN_FILTER_NAME,
  configTypes: [JWT_AUTHN_TYPE],
  parseConfig: parseJwtAuthnConfig,
  create(config: JwtAuthnConfig) {
    let f = shared.get(config);
    if (!f) shared.set(config, (f = new JwtAuthnFilter(config)));
    return f;
  },
};

const shared = new WeakMap<JwtAuthnConfig, JwtAuthnFilter>();
