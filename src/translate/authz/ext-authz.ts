// AuthorizationPolicy action CUSTOM -> ext_authz, as Istio builds it: an RBAC filter whose
// shadow_rules (action DENY, prefix `istio_ext_authz_`) mark the requests the CUSTOM policies'
// rules match, then an ext_authz filter enabled only for marked requests (`filter_enabled_metadata`
// on `istio_ext_authz_shadow_effective_policy_id`), calling the mesh config's extension provider
// (`envoyExtAuthzHttp`). Both go ahead of the DENY and ALLOW RBAC filters (CUSTOM is evaluated first).
// A provider that is missing, not HTTP, or one of several on the same workload cannot be used: those
// policies fall back to denying what they match (rbac.ts), as Istio does with a bad CUSTOM action.
import type { AuthorizationPolicySpec, ExtAuthzHttpProvider, ExtensionProvider, Resource } from '../../model/index.js';
import { duration, type Obj } from '../envoy.js';
import { outboundClusterName } from '../names.js';
import { RBAC_HTTP_TYPE, policyName, rulePolicy } from './rbac.js';

type Policy = Resource<AuthorizationPolicySpec>;

export const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
const SHADOW_PREFIX = 'istio_ext_authz_';

/** Istio header patterns: `x-*` prefix, `*-id` suffix, `*` any, else exact; case-insensitive. */
function headerPatterns(names: readonly string[] | undefined): Obj | undefined {
  if (!names?.length) return undefined;
  return {
    patterns: names.map((n) => {
      if (n === '*') return { prefix: '', ignore_case: true };
      if (n.endsWith('*')) return { prefix: n.slice(0, -1), ignore_case: true };
      if (n.startsWith('*')) return { suffix: n.slice(1), ignore_case: true };
      return { exact: n, ignore_case: true };
    }),
  };
}

/** `ns/host` or `host` -> host. */
const serviceHost = (service: string): string => (service.includes('/') ? service.slice(service.indexOf('/') + 1) : service);

export function extAuthzHttpFilter(p: ExtAuthzHttpProvider): Obj {
  const host = serviceHost(p.service);
  const response: Obj = {};
  const up = headerPatterns(p.headersToUpstreamOnAllow);
  const down = headerPatterns(p.headersToDownstreamOnDeny);
  const ok = headerPatterns(p.headersToDownstreamOnAllow);
  if (up) response.allowed_upstream_headers = up;
  if (down) response.allowed_client_headers = down;
  if (ok) response.allowed_client_headers_on_success = ok;
  const request: Obj = {};
  const extra = Object.entries(p.includeAdditionalHeadersInCheck ?? {});
  if (extra.length) request.headers_to_add = extra.map(([key, value]) => ({ key, value }));
  const allowed = headerPatterns(p.includeRequestHeadersInCheck);
  const cfg: Obj = {
    '@type': EXT_AUTHZ_TYPE,
    http_service: {
      server_uri: { uri: `http://${host}`, cluster: outboundClusterName(p.port, undefined, host), timeout: duration(p.timeout ?? '600s') },
      ...(p.pathPrefix ? { path_prefix: p.pathPrefix } : {}),
      ...(Object.keys(request).length ? { authorization_request: request } : {}),
      ...(Object.keys(response).length ? { authorization_response: response } : {}),
    },
    ...(allowed ? { allowed_headers: allowed } : {}),
    transport_api_version: 'V3',
    filter_enabled_metadata: {
      filter: 'envoy.filters.http.rbac',
      path: [{ key: `${SHADOW_PREFIX}shadow_effective_policy_id` }],
      value: { string_match: { prefix: 'istio-ext-authz' } },
    },
  };
  if (p.failOpen) cfg.failure_mode_allow = true;
  if (p.statusOnError) cfg.status_on_error = { code: Number(p.statusOnError) };
  return { name: EXT_AUTHZ_FILTER, typed_config: cfg };
}

export interface CustomAuthz {
  /** RBAC shadow marker + ext_authz, to go ahead of the DENY/ALLOW RBAC filters. */
  readonly http: Obj[];
  /** CUSTOM policies that could not be served by a provider (rbac.ts denies what they match). */
  readonly unresolved: Policy[];
  /** Why, for each unresolved policy. */
  readonly problems: string[];
}

export function customAuthz(policies: readonly Policy[], providers: readonly ExtensionProvider[] | undefined, trustDomains?: readonly string[]): CustomAuthz {
  const custom = policies.filter((p) => p.spec.action === 'CUSTOM');
  if (custom.length === 0) return { http: [], unresolved: [], problems: [] };
  const problems: string[] = [];
  const unresolved: Policy[] = [];
  const usable: Policy[] = [];
  const ref = (p: Policy): string => `AuthorizationPolicy ${p.metadata.namespace ?? ''}/${p.metadata.name}`;
  for (const p of custom) {
    const name = p.spec.provider?.name ?? '';
    const prov = providers?.find((x) => x.name === name);
    if (!prov) problems.push(`${ref(p)}: extension provider "${name}" is not in the mesh config (weft up --mesh-config)`);
    else if (!prov.envoyExtAuthzHttp) problems.push(`${ref(p)}: extension provider "${name}" is not envoyExtAuthzHttp (the only kind Weft supports)`);
    else {
      usable.push(p);
      continue;
    }
    unresolved.push(p);
  }
  const names = new Set(usable.map((p) => p.spec.provider?.name));
  if (names.size > 1) {
    problems.push(`only one extension provider may be used per workload, these policies use ${[...names].sort().join(', ')}; their rules deny`);
    return { http: [], unresolved: [...unresolved, ...usable], problems };
  }
  if (usable.length === 0) return { http: [], unresolved, problems };
  const provider = providers?.find((x) => x.name === [...names][0])?.envoyExtAuthzHttp as ExtAuthzHttpProvider;
  const shadow: Record<string, Obj> = {};
  for (const p of usable) {
    (p.spec.rules ?? []).forEach((r, i) => {
      const pol = rulePolicy(r ?? {}, { ns: p.metadata.namespace ?? '', forTcp: false, strict: false, trustDomains });
      if (pol) shadow[`istio-ext-authz-${policyName(p, i)}`] = pol;
    });
  }
  const marker = { name: 'envoy.filters.http.rbac', typed_config: { '@type': RBAC_HTTP_TYPE, shadow_rules: { action: 'DENY', policies: shadow }, shadow_rules_stat_prefix: SHADOW_PREFIX } };
  return { http: [marker, extAuthzHttpFilter(provider)], unresolved, problems };
}
