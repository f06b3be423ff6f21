// Security policy for a workload's inbound side: which AuthorizationPolicies and
// RequestAuthentications select it, and the filters they become.
//
//   select.ts (here)  policy selection: root namespace = mesh-wide, no selector = namespace-wide,
//                     selector.matchLabels over the workload's labels; targetRef policies are for
//                     gateways/waypoints and do not apply to sidecars
//   rbac.ts           AuthorizationPolicy -> RBAC filters (HTTP and network), Istio's builder semantics
//   match.ts          attribute values -> Envoy RBAC matchers
//   jwt.ts            RequestAuthentication -> jwt_authn
//   ext-authz.ts      action CUSTOM -> RBAC shadow marker + ext_authz (mesh config extensionProviders)
//
// Results are memoized per snapshot by (namespace, labels): every policy is compiled once per push.
import { trustDomainBundle, type AuthorizationPolicySpec, type RequestAuthenticationSpec, type Resource, type Workload } from '../../model/index.js';
import { labelsMatch, resourcesOfKind, type Registry } from '../../registry/index.js';
import type { Obj } from '../envoy.js';
import { jwtAuthnFilter } from './jwt.js';
import { rbacHttpFilters, rbacNetworkFilters } from './rbac.js';
import { customAuthz } from './ext-authz.js';

export { rbacConfigs, rbacHttpFilters, rbacNetworkFilters, rulePolicy, policyName, withTrustDomainAliases, RBAC_HTTP_TYPE, RBAC_NETWORK_TYPE } from './rbac.js';
export { jwtAuthnFilter, jwtProvider, JWT_AUTHN_TYPE } from './jwt.js';
export { customAuthz, extAuthzHttpFilter, EXT_AUTHZ_TYPE } from './ext-authz.js';

interface Selectable { selector?: { matchLabels?: Record<string, string> }; targetRef?: unknown; targetRefs?: unknown }

/** Policies of a kind that apply to a workload, in snapshot (precedence) order. */
export function selectPolicies<S extends Selectable>(registry: Registry, kind: string, namespace: string, labels: Readonly<Record<string, string>>): Resource<S>[] {
  const root = registry.snapshot.mesh.rootNamespace;
  return resourcesOfKind<S>(registry.snapshot, kind).filter((r) => {
    const ns = r.metadata.namespace ?? '';
    if (ns !== namespace && ns !== root) return false;
    const spec = r.spec ?? ({} as S);
    if (spec.targetRef !== undefined || spec.targetRefs !== undefined) return false;
    const sel = spec.selector?.matchLabels;
    if (!sel || Object.keys(sel).length === 0) return true;
    return labelsMatch(sel, labels);
  });
}

export interface InboundAuthz {
  /** HTTP filters to put ahead of the inbound chain's own (jwt_authn, then RBAC by action). */
  readonly http: readonly Obj[];
  /** Network filters to put ahead of tcp_proxy on inbound TCP ports. */
  readonly network: readonly Obj[];
}

const NONE: InboundAuthz = Object.freeze({ http: Object.freeze([]), network: Object.freeze([]) });

/** The authn/authz filters for a workload's inbound listeners (shared by workloads alike). */
export function inboundAuthz(registry: Registry, workload: Pick<Workload, 'namespace' | 'labels'>): InboundAuthz {
  const key = `authz|${workload.namespace}|${JSON.stringify(Object.entries(workload.labels).sort())}`;
  return registry.memo(key, () => {
    const authz = selectPolicies<AuthorizationPolicySpec & Selectable>(registry, 'AuthorizationPolicy', workload.namespace, workload.labels);
    const authn = selectPolicies<RequestAuthenticationSpec & Selectable>(registry, 'RequestAuthentication', workload.namespace, workload.labels);
    const jwt = jwtAuthnFilter(authn);
    // Istio's order: CUSTOM (ext_authz) first, then DENY, then ALLOW; unusable CUSTOM policies deny.
    const tds = trustDomainBundle(registry.snapshot.mesh); // principals match peers of the trust domain and its aliases
    const custom = customAuthz(authz, registry.snapshot.mesh.extensionProviders, tds);
    const served = new Set(authz.filter((p) => p.spec.action === 'CUSTOM' && !custom.unresolved.includes(p)));
    const http = [...(jwt ? [jwt] : []), ...custom.http, ...rbacHttpFilters(authz.filter((p) => !served.has(p)), tds)];
    const network = rbacNetworkFilters(authz, tds);
    return http.length === 0 && network.length === 0 ? NONE : { http, network };
  });
}
