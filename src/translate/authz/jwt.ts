// RequestAuthentication -> envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication, as Istio
// builds it: one provider per jwtRule (`origins-N`), one rule on prefix `/` requiring any provider
// or no token at all (allow_missing): a missing token passes (AuthorizationPolicy decides), an
// invalid one is a 401.
//
// Keys: inline `jwks` becomes local_jwks; `jwksUri` becomes remote_jwks fetched by the sidecar
// itself (async_fetch, cached 5 minutes, http_uri.timeout = the rule's `timeout`, default 5s).
// Istiod instead fetches and inlines the set; Weft lets the proxy do it so a JWKS server on the
// proxy's loopback (tests, local IdPs) works and key rotation needs no push.
import type { JWTRule, RequestAuthenticationSpec, Resource } from '../../model/index.js';
import { duration, type Obj } from '../envoy.js';

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
/** A key set nothing verifies with: rules without usable keys fail every token (Istio's fake JWKS). */
export const EMPTY_JWKS = '{"keys":[]}';

function remoteCluster(uri: string): string {
  try {
    const u = new URL(uri);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return `outbound|${port}||${u.hostname}`;
  } catch {
    return 'jwks';
  }
}

export function jwtProvider(rule: JWTRule & { spaceDelimitedClaims?: string[] }): Obj {
  const p: Obj = { issuer: rule.issuer ?? '' };
  if (rule.audiences?.length) p.audiences = [...rule.audiences];
  if (rule.jwks) p.local_jwks = { inline_string: rule.jwks };
  else if (rule.jwksUri) {
    p.remote_jwks = {
      http_uri: { uri: rule.jwksUri, cluster: remoteCluster(rule.jwksUri), timeout: duration(rule.timeout) ?? { seconds: '5', nanos: 0 } },
      cache_duration: { seconds: '300', nanos: 0 },
      async_fetch: {},
    };
  } else p.local_jwks = { inline_string: EMPTY_JWKS };
  if (rule.forwardOriginalToken) p.forward = true;
  if (rule.fromHeaders?.length) p.from_headers = rule.fromHeaders.map((h) => ({ name: h.name, ...(h.prefix ? { value_prefix: h.prefix } : {}) }));
  if (rule.fromParams?.length) p.from_params = [...rule.fromParams];
  if (rule.fromCookies?.length) p.from_cookies = [...rule.fromCookies];
  if (rule.outputPayloadToHeader) p.forward_payload_header = rule.outputPayloadToHeader;
  if (rule.outputClaimToHeaders?.length) p.claim_to_headers = rule.outputClaimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim }));
  // Istio's istio_authn reads the payload from here; Weft's RBAC reads ctx.authn, but keep the shape.
  if (rule.issuer) p.payload_in_metadata = rule.issuer;
  // `scope` and `permission` (and the rule's own) are lists written as space-separated strings.
  p.normalize_payload_in_metadata = { space_delimited_claims: [...new Set(['scope', 'permission', ...(rule.spaceDelimitedClaims ?? [])])] };
  return p;
}

/** The jwt_authn filter for the RequestAuthentications selecting a workload; null when none has rules. */
export function jwtAuthnFilter(policies: readonly Resource<RequestAuthenticationSpec>[]): Obj | null {
  const rules = policies.flatMap((p) => p.spec.jwtRules ?? []).filter((r) => !!r.issuer);
  if (rules.length === 0) return null;
  const providers: Obj = {};
  rules.forEach((r, i) => {
    providers[`origins-${i}`] = jwtProvider(r);
  });
  const requirements: Obj[] = rules.map((_, i) => ({ provider_name: `origins-${i}` }));
  requirements.push({ allow_missing: {} });
  return {
    name: JWT_AUTHN_FILTER,
    typed_config: {
      '@type': JWT_AUTHN_TYPE,
      providers,
      rules: [{ match: { prefix: '/' }, requires: { requires_any: { requirements } } }],
      bypass_cors_preflight: true,
    },
  };
}
