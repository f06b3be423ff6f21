// AuthorizationPolicy -> Envoy RBAC, the way Istio's authz builder does it: one RBAC filter per
// action (CUSTOM without a provider as DENY, AUDIT as LOG, DENY, ALLOW, in that order), one Envoy
// policy per rule named `ns[NS]-policy[NAME]-rule[N]`; `from` entries are ORed principals, `to`
// entries ORed permissions, `when` conditions ANDed into each. Dry-run policies become shadow rules.
import type { AuthorizationPolicySpec, Condition, Operation, Resource, Rule, Source } from '../../model/index.js';
import type { Obj } from '../envoy.js';
import { type Side, AuthzValueError, attribute } from './match.js';

export const RBAC_HTTP_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const RBAC_NETWORK_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
export const RBAC_HTTP_FILTER = 'envoy.filters.http.rbac';
export const RBAC_NETWORK_FILTER = 'envoy.filters.network.rbac';
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

type Action = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
type Policy = Resource<AuthorizationPolicySpec>;

/** Source/Operation fields Istio knows, beyond the model's (serviceAccounts is newer). */
type SourceX = Source & { serviceAccounts?: string[]; notServiceAccounts?: string[] };

interface Item { key: string; values?: string[]; notValues?: string[] }

/** A rule that cannot be expressed: ALLOW drops the rule (narrower), DENY/AUDIT drop the value (wider). */
class RuleSkipped extends Error {}

function fromItems(s: SourceX | undefined): Item[] {
  if (!s) return [];
  return [
    { key: 'serviceAccounts', values: s.serviceAccounts, notValues: s.notServiceAccounts },
    { key: 'principals', values: s.principals, notValues: s.notPrincipals },
    { key: 'requestPrincipals', values: s.requestPrincipals, notValues: s.notRequestPrincipals },
    { key: 'namespaces', values: s.namespaces, notValues: s.notNamespaces },
    { key: 'remoteIpBlocks', values: s.remoteIpBlocks, notValues: s.notRemoteIpBlocks },
    { key: 'ipBlocks', values: s.ipBlocks, notValues: s.notIpBlocks },
  ];
}

function toItems(o: Operation | undefined): Item[] {
  if (!o) return [];
  return [
    { key: 'hosts', values: o.hosts, notValues: o.notHosts },
    { key: 'methods', values: o.methods, notValues: o.notMethods },
    { key: 'paths', values: o.paths, notValues: o.notPaths },
    { key: 'ports', values: o.ports, notValues: o.notPorts },
  ];
}

interface Ctx { ns: string; forTcp: boolean; strict: boolean; /** The mesh trust domain, then its aliases. */ trustDomains?: readonly string[] }

/**
 * Istio's trustdomain.Bundle.ReplaceTrustDomainAliases: a principal `td/ns/N/sa/S` whose trust domain
 * is ours, an alias, or `cluster.local` (which always means the local one) matches peers of every
 * trust domain of the bundle; `*`-domain and other principals are kept as written.
 */
export function withTrustDomainAliases(principals: readonly string[], trustDomains: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of principals) {
    const parts = p.split('/');
    const td = parts[0];
    if (parts.length !== 5 || td.startsWith('*') || (td !== 'cluster.local' && !trustDomains.includes(td))) out.push(p);
    else for (const d of trustDomains) out.push([d, ...parts.slice(1)].join('/'));
  }
  return [...new Set(out)];
}

const PRINCIPAL_KEYS = new Set(['principals', 'source.principal']);

/** Matchers of one item: or(values), not(or(notValues)). */
function itemMatchers(item: Item, side: Side, c: Ctx): Obj[] {
  const values = item.values ?? [];
  const notValues = item.notValues ?? [];
  if (values.length === 0 && notValues.length === 0) return [];
  let attr;
  try {
    attr = attribute(item.key, c.ns);
    if (attr.side !== side) throw new AuthzValueError(`${item.key} is not a ${side} attribute`);
    if (attr.httpOnly && c.forTcp) throw new AuthzValueError(`"${item.key}" is HTTP only`);
  } catch (e) {
    if (c.strict) throw new RuleSkipped(e instanceof Error ? e.message : String(e));
    return [];
  }
  const build = (vs: string[]): Obj[] => vs.flatMap((v) => {
    try {
      return [attr.make(v)];
    } catch (e) {
      if (c.strict) throw new RuleSkipped(e instanceof Error ? e.message : String(e));
      return [];
    }
  });
  const aliased = (vs: string[]): string[] => (c.trustDomains && PRINCIPAL_KEYS.has(item.key) ? withTrustDomainAliases(vs, c.trustDomains) : vs);
  const out: Obj[] = [];
  const yes = build(aliased(values));
  const no = build(aliased(notValues));
  if (side === 'permission') {
    if (yes.length) out.push({ or_rules: { rules: yes } });
    if (no.length) out.push({ not_rule: { or_rules: { rules: no } } });
  } else {
    if (yes.length) out.push({ or_ids: { ids: yes } });
    if (no.length) out.push({ not_id: { or_ids: { ids: no } } });
  }
  return out;
}

function conditionItems(when: Condition[] | undefined, side: Side, c: Ctx): Obj[] {
  const out: Obj[] = [];
  for (const w of when ?? []) {
    let s: Side;
    try {
      s = attribute(w.key, c.ns).side;
    } catch (e) {
      if (c.strict) throw new RuleSkipped(e instanceof Error ? e.message : String(e));
      continue;
    }
    if (s === side) out.push(...itemMatchers({ key: w.key, values: w.values, notValues: w.notValues }, side, c));
  }
  return out;
}

/** One Istio rule -> Envoy Policy; null when the rule is dropped. */
export function rulePolicy(rule: Rule, c: Ctx): Obj | null {
  try {
    const basePerm = conditionItems(rule.when, 'permission', c);
    const basePrinc = conditionItems(rule.when, 'principal', c);
    const froms = rule.from?.length ? rule.from.map((f) => [...fromItems(f.source).flatMap((i) => itemMatchers(i, 'principal', c)), ...basePrinc]) : [basePrinc];
    const tos = rule.to?.length ? rule.to.map((t) => [...toItems(t.operation).flatMap((i) => itemMatchers(i, 'permission', c)), ...basePerm]) : [basePerm];
    return {
      permissions: tos.map((rules) => ({ and_rules: { rules: rules.length ? rules : [{ any: true }] } })),
      principals: froms.map((ids) => ({ and_ids: { ids: ids.length ? ids : [{ any: true }] } })),
    };
  } catch (e) {
    if (e instanceof RuleSkipped) return null;
    throw e;
  }
}

export function policyName(p: Policy, i: number): string {
  return `ns[${p.metadata.namespace ?? ''}]-policy[${p.metadata.name}]-rule[${i}]`;
}

function isDryRun(p: Policy): boolean {
  return p.metadata.annotations?.[DRY_RUN_ANNOTATION] === 'true';
}

/** The Envoy policies of a set of AuthorizationPolicies of one action. */
export function envoyPolicies(policies: readonly Policy[], action: Action, forTcp: boolean, trustDomains?: readonly string[]): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const p of policies) {
    const c: Ctx = { ns: p.metadata.namespace ?? '', forTcp, strict: action === 'ALLOW', trustDomains };
    const rules = p.spec.rules ?? [];
    if (rules.length === 0) {
      // An ALLOW policy without rules allows nothing: it still makes the ALLOW filter exist.
      if (action === 'ALLOW') out[policyName(p, 0)] = { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] };
      continue;
    }
    rules.forEach((r, i) => {
      const pol = rulePolicy(r ?? {}, c);
      if (!pol) return;
      const name = action === 'CUSTOM' ? `istio-ext-authz-${policyName(p, i)}-deny-due-to-bad-CUSTOM-action` : policyName(p, i);
      out[name] = pol;
    });
  }
  return out;
}

const ENVOY_ACTION: Record<Action, string | undefined> = { ALLOW: undefined, DENY: 'DENY', AUDIT: 'LOG', CUSTOM: 'DENY' };
const SHADOW_PREFIX: Record<Action, string> = { ALLOW: 'istio_dry_run_allow_', DENY: 'istio_dry_run_deny_', AUDIT: 'istio_dry_run_audit_', CUSTOM: 'istio_ext_authz_' };

function rbacMessage(action: Action, policies: Record<string, Obj>): Obj {
  const a = ENVOY_ACTION[action];
  return { ...(a ? { action: a } : {}), policies };
}

/**
 * The RBAC filter configs (typed_config bodies without '@type') for the policies selecting a
 * workload, in evaluation order. CUSTOM has no ext_authz provider in Weft: like Istio with a bad
 * provider, its rules deny what they match.
 */
export function rbacConfigs(policies: readonly Policy[], forTcp: boolean, trustDomains?: readonly string[]): Obj[] {
  const out: Obj[] = [];
  for (const action of ['CUSTOM', 'AUDIT', 'DENY', 'ALLOW'] as const) {
    const mine = policies.filter((p) => (p.spec.action ?? 'ALLOW') === action);
    if (mine.length === 0) continue;
    const enforced = mine.filter((p) => !isDryRun(p) || action === 'CUSTOM');
    const dry = mine.filter((p) => isDryRun(p) && action !== 'CUSTOM');
    const cfg: Obj = {};
    if (enforced.length) {
      const pols = envoyPolicies(enforced, action, forTcp, trustDomains);
      // A DENY/AUDIT/CUSTOM filter with nothing to match is left out; an ALLOW one never is.
      if (action !== 'ALLOW' && Object.keys(pols).length === 0 && dry.length === 0) continue;
      cfg.rules = rbacMessage(action, pols);
    }
    if (dry.length) {
      cfg.shadow_rules = rbacMessage(action, envoyPolicies(dry, action, forTcp, trustDomains));
      cfg.shadow_rules_stat_prefix = SHADOW_PREFIX[action];
    }
    if (forTcp) cfg.stat_prefix = 'tcp.';
    out.push(cfg);
  }
  return out;
}

/** HTTP RBAC filters; per-policy counters on, so /stats names the policy and rule that decided. */
export function rbacHttpFilters(policies: readonly Policy[], trustDomains?: readonly string[]): Obj[] {
  return rbacConfigs(policies, false, trustDomains).map((c) => ({ name: RBAC_HTTP_FILTER, typed_config: { '@type': RBAC_HTTP_TYPE, ...c, track_per_rule_stats: true } }));
}

export function rbacNetworkFilters(policies: readonly Policy[], trustDomains?: readonly string[]): Obj[] {
  return rbacConfigs(policies, true, trustDomains).map((c) => ({ name: RBAC_NETWORK_FILTER, typed_config: { '@type': RBAC_NETWORK_TYPE, ...c } }));
}
