// envoy.extensions.filters.http.cors.v3.Cors with the route's CorsPolicy (typed_per_filter_config),
// as Istio's corsPolicy becomes. Policies compile once per push; the filter is stateless.
import { type Obj, arr, bool, isObj, obj, str } from '../../wire.js';
import { fraction } from '../../router/compile.js';
import { type StringPredicate, compileStringMatcher } from '../../router/matchers.js';
import type { HttpFilterFactory } from '../types.js';
import { CorsFilter } from './filter.js';

export const CORS_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
export const CORS_FILTER_NAME = 'envoy.filters.http.cors';

export interface CorsPolicy {
  readonly kind: 'cors-policy';
  readonly origins: readonly StringPredicate[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  /** filter_enabled share (0..1): outside it the policy is not applied. */
  readonly enabled: number;
  /** A preflight whose origin does not match goes upstream (true) or is answered here. */
  readonly forwardNotMatchingPreflights: boolean;
  readonly allowPrivateNetworkAccess: boolean;
}

export function parseCorsPolicy(c: Obj, path: string): CorsPolicy {
  const fe = c.filter_enabled;
  return {
    kind: 'cors-policy',
    origins: arr(c.allow_origin_string_match, `${path}.allow_origin_string_match`).map((m, i) => compileStringMatcher(obj(m, `${path}.allow_origin_string_match[${i}]`), `${path}.allow_origin_string_match[${i}]`)),
    allowMethods: str(c.allow_methods, `${path}.allow_methods`),
    allowHeaders: str(c.allow_headers, `${path}.allow_headers`),
    exposeHeaders: str(c.expose_headers, `${path}.expose_headers`),
    maxAge: str(c.max_age, `${path}.max_age`),
    allowCredentials: bool(c.allow_credentials, `${path}.allow_credentials`, false),
    enabled: isObj(fe) ? fraction(fe.default_value, `${path}.filter_enabled.default_value`, 1) : 1,
    forwardNotMatchingPreflights: bool(c.forward_not_matching_preflights, `${path}.forward_not_matching_preflights`, true),
    allowPrivateNetworkAccess: bool(c.allow_private_network_access, `${path}.allow_private_network_access`, false),
  };
}

const filter = new CorsFilter();

export const corsFactory: HttpFilterFactory<null> = {
  name: CORS_FILTER_NAME,
  configTypes: [CORS_TYPE],
  perRouteTypes: [CORS_POLICY_TYPE],
  parseConfig: () => null,
  parsePerRoute: parseCorsPolicy,
  create: () => filter,
};
