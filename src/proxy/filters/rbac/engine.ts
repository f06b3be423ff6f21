// envoy.config.rbac.v3.RBAC compiled once per push into predicates over what a request or a
// connection shows (RbacInput). Shared by the HTTP RBAC filter and the network RBAC filter.
import net from 'node:net';
import { ConfigError, type Obj, arr, bool, isObj, num, obj, str } from '../../wire.js';
import { compileHeaderMatcher, compileStringMatcher, type StringPredicate } from '../../router/matchers.js';
import type { RequestView } from '../../router/request.js';

/** What RBAC can see. HTTP fields are absent (undefined) on a plain TCP connection. */
export interface RbacInput {
  readonly view?: RequestView;
  /** The peer address of the connection. */
  readonly directRemoteIp: string;
  /** The original client (x-forwarded-for), else the peer address. */
  readonly remoteIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
  readonly sni: string;
  /** URI SAN (spiffe://...) of the verified peer certificate; '' on a plaintext connection. */
  readonly peerPrincipal: string;
  /** Whether the connection is TLS with a verified peer certificate. */
  readonly authenticated: boolean;
  /** Dynamic metadata: the value at filter/path, or undefined. */
  metadata(filter: string, path: readonly string[]): unknown;
}

type Pred = (r: RbacInput) => boolean;

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

export interface CompiledPolicy {
  readonly name: string;
  readonly matches: Pred;
}

export interface RbacEngine {
  readonly action: RbacAction;
  readonly policies: readonly CompiledPolicy[];
}

export interface RbacDecision {
  /** ALLOW/DENY: whether the request may continue; LOG: always true. */
  readonly allowed: boolean;
  /** The first matching policy, '' when none matched. */
  readonly policyId: string;
}

/** Evaluates Envoy's semantics: ALLOW lets through what matches a policy, DENY refuses it, LOG only marks it. */
export function evaluate(engine: RbacEngine, input: RbacInput): RbacDecision {
  let policyId = '';
  for (const p of engine.policies) {
    if (p.matches(input)) {
      policyId = p.name;
      break;
    }
  }
  const matched = policyId !== '';
  switch (engine.action) {
    case 'ALLOW':
      return { allowed: matched, policyId };
    case 'DENY':
      return { allowed: !matched, policyId };
    case 'LOG':
      return { allowed: true, policyId };
  }
}

/** envoy.config.rbac.v3.RBAC (the `rules` / `shadow_rules` message). */
export function compileRbac(rules: Obj, path: string): RbacEngine {
  const action = str(rules.action, `${path}.action`, 'ALLOW');
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') throw new ConfigError(`${path}.action`, `unsupported action ${action}`);
  const policies: CompiledPolicy[] = [];
  const raw = obj(rules.policies, `${path}.policies`);
  // Envoy keeps policies in a map ordered by name; the first match names the decision.
  for (const name of Object.keys(raw).sort()) {
    const p = `${path}.policies[${JSON.stringify(name)}]`;
    const pol = obj(raw[name], p);
    if (pol.condition !== undefined || pol.checked_condition !== undefined) throw new ConfigError(`${p}.condition`, 'CEL conditions are not supported');
    const perms = arr(pol.permissions, `${p}.permissions`).map((x, i) => compilePermission(obj(x, `${p}.permissions[${i}]`), `${p}.permissions[${i}]`));
    const princ = arr(pol.principals, `${p}.principals`).map((x, i) => compilePrincipal(obj(x, `${p}.principals[${i}]`), `${p}.principals[${i}]`));
    // An empty list matches nothing (Envoy requires at least one of each).
    const anyPerm = or(perms);
    const anyPrinc = or(princ);
    policies.push({ name, matches: (r) => anyPerm(r) && anyPrinc(r) });
  }
  return { action, policies };
}

function or(ps: Pred[]): Pred {
  if (ps.length === 1) return ps[0];
  return (r) => {
    for (const p of ps) if (p(r)) return true;
    return false;
  };
}

function and(ps: Pred[]): Pred {
  if (ps.length === 1) return ps[0];
  return (r) => {
    for (const p of ps) if (!p(r)) return false;
    return true;
  };
}

function compilePermission(m: Obj, path: string): Pred {
  if (isObj(m.and_rules)) return and(arr(m.and_rules.rules, `${path}.and_rules.rules`).map((x, i) => compilePermission(obj(x, `${path}.and_rules.rules[${i}]`), `${path}.and_rules.rules[${i}]`)));
  if (isObj(m.or_rules)) return or(arr(m.or_rules.rules, `${path}.or_rules.rules`).map((x, i) => compilePermission(obj(x, `${path}.or_rules.rules[${i}]`), `${path}.or_rules.rules[${i}]`)));
  if (m.any !== undefined) return constant(bool(m.any, `${path}.any`, false));
  if (isObj(m.not_rule)) {
    const inner = compilePermission(m.not_rule, `${path}.not_rule`);
    return (r) => !inner(r);
  }
  if (isObj(m.header)) return headerPred(m.header, `${path}.header`);
  if (isObj(m.url_path)) return urlPathPred(m.url_path, `${path}.url_path`);
  if (isObj(m.destination_ip)) {
    const c = cidr(m.destination_ip, `${path}.destination_ip`);
    return (r) => c(r.destinationIp);
  }
  if (m.destination_port !== undefined) {
    const port = num(m.destination_port, `${path}.destination_port`, 0);
    return (r) => r.destinationPort === port;
  }
  if (isObj(m.destination_port_range)) {
    const start = num(m.destination_port_range.start, `${path}.destination_port_range.start`, 0);
    const end = num(m.destination_port_range.end, `${path}.destination_port_range.end`, 0);
    return (r) => r.destinationPort >= start && r.destinationPort < end;
  }
  if (isObj(m.requested_server_name)) {
    const s = compileStringMatcher(m.requested_server_name, `${path}.requested_server_name`);
    return (r) => s(r.sni);
  }
  if (isObj(m.metadata)) return metadataPred(m.metadata, `${path}.metadata`);
  throw new ConfigError(path, `unsupported permission ${Object.keys(m).join(',') || '(empty)'}`);
}

function compilePrincipal(m: Obj, path: string): Pred {
  if (isObj(m.and_ids)) return and(arr(m.and_ids.ids, `${path}.and_ids.ids`).map((x, i) => compilePrincipal(obj(x, `${path}.and_ids.ids[${i}]`), `${path}.and_ids.ids[${i}]`)));
  if (isObj(m.or_ids)) return or(arr(m.or_ids.ids, `${path}.or_ids.ids`).map((x, i) => compilePrincipal(obj(x, `${path}.or_ids.ids[${i}]`), `${path}.or_ids.ids[${i}]`)));
  if (m.any !== undefined) return constant(bool(m.any, `${path}.any`, false));
  if (isObj(m.not_id)) {
    const inner = compilePrincipal(m.not_id, `${path}.not_id`);
    return (r) => !inner(r);
  }
  if (m.authenticated !== undefined) {
    const a = obj(m.authenticated, `${path}.authenticated`);
    if (!isObj(a.principal_name)) return (r) => r.authenticated;
    const s = compileStringMatcher(a.principal_name, `${path}.authenticated.principal_name`);
    return (r) => r.authenticated && s(r.peerPrincipal);
  }
  if (isObj(m.direct_remote_ip) || isObj(m.source_ip)) {
    const c = cidr(m.direct_remote_ip ?? m.source_ip, `${path}.direct_remote_ip`);
    return (r) => c(r.directRemoteIp);
  }
  if (isObj(m.remote_ip)) {
    const c = cidr(m.remote_ip, `${path}.remote_ip`);
    return (r) => c(r.remoteIp);
  }
  if (isObj(m.header)) return headerPred(m.header, `${path}.header`);
  if (isObj(m.url_path)) return urlPathPred(m.url_path, `${path}.url_path`);
  if (isObj(m.metadata)) return metadataPred(m.metadata, `${path}.metadata`);
  throw new ConfigError(path, `unsupported principal ${Object.keys(m).join(',') || '(empty)'}`);
}

function constant(v: boolean): Pred {
  return v ? () => true : () => false;
}

/** Header matchers see HTTP requests only; on a TCP connection they do not match. */
function headerPred(h: Obj, path: string): Pred {
  const p = compileHeaderMatcher(h, path);
  return (r) => (r.view ? p(r.view) : false);
}

/** envoy.type.matcher.v3.PathMatcher: the path without the query. */
function urlPathPred(m: Obj, path: string): Pred {
  const s = compileStringMatcher(obj(m.path, `${path}.path`), `${path}.path`);
  return (r) => (r.view ? s(r.view.pathOnly) : false);
}

/** envoy.config.core.v3.CidrRange -> address predicate (IPv4-mapped IPv6 addresses count as IPv4). */
export function cidr(v: unknown, path: string): (ip: string) => boolean {
  const c = obj(v, path);
  const prefix = str(c.address_prefix, `${path}.address_prefix`);
  const family = net.isIP(prefix);
  if (family === 0) throw new ConfigError(`${path}.address_prefix`, `not an IP address: ${JSON.stringify(prefix)}`);
  const len = num(c.prefix_len, `${path}.prefix_len`, family === 4 ? 32 : 128);
  if (!Number.isInteger(len) || len < 0 || len > (family === 4 ? 32 : 128)) throw new ConfigError(`${path}.prefix_len`, `out of range: ${len}`);
  const list = new net.BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(prefix, len, type);
  return (ip) => {
    const a = ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
    const f = net.isIP(a);
    if (f === 0) return false;
    return list.check(a, f === 4 ? 'ipv4' : 'ipv6');
  };
}

/** envoy.type.matcher.v3.MetadataMatcher. */
function metadataPred(m: Obj, path: string): Pred {
  const filter = str(m.filter, `${path}.filter`);
  const keys = arr(m.path, `${path}.path`).map((s, i) => str(obj(s, `${path}.path[${i}]`).key, `${path}.path[${i}].key`));
  const value = compileValueMatcher(obj(m.value, `${path}.value`), `${path}.value`);
  const invert = bool(m.invert, `${path}.invert`, false);
  return (r) => value(r.metadata(filter, keys)) !== invert;
}

type ValuePred = (v: unknown) => boolean;

/** envoy.type.matcher.v3.ValueMatcher. A string matcher also matches a list holding a matching string. */
export function compileValueMatcher(m: Obj, path: string): ValuePred {
  if (isObj(m.string_match)) {
    const s: StringPredicate = compileStringMatcher(m.string_match, `${path}.string_match`);
    return (v) => (typeof v === 'string' ? s(v) : Array.isArray(v) ? v.some((x) => typeof x === 'string' && s(x)) : false);
  }
  if (isObj(m.list_match)) {
    const one = compileValueMatcher(obj(m.list_match.one_of, `${path}.list_match.one_of`), `${path}.list_match.one_of`);
    return (v) => (Array.isArray(v) ? v.some(one) : v !== undefined && one(v));
  }
  if (isObj(m.or_match)) {
    const ms = arr(m.or_match.value_matchers, `${path}.or_match.value_matchers`).map((x, i) => compileValueMatcher(obj(x, `${path}.or_match.value_matchers[${i}]`), `${path}.or_match.value_matchers[${i}]`));
    return (v) => ms.some((f) => f(v));
  }
  if (m.present_match !== undefined) {
    const want = bool(m.present_match, `${path}.present_match`, true);
    return (v) => (v !== undefined && v !== null) === want;
  }
  if (m.bool_match !== undefined) {
    const b = bool(m.bool_match, `${path}.bool_match`, false);
    return (v) => v === b;
  }
  if (m.null_match !== undefined) return (v) => v === null;
  if (isObj(m.double_match)) {
    const d = m.double_match;
    if (d.exact !== undefined) {
      const x = num(d.exact, `${path}.double_match.exact`, 0);
      return (v) => v === x;
    }
    const range = obj(d.range, `${path}.double_match.range`);
    const start = num(range.start, `${path}.double_match.range.start`, -Infinity);
    const end = num(range.end, `${path}.double_match.range.end`, Infinity);
    return (v) => typeof v === 'number' && v >= start && v < end;
  }
  throw new ConfigError(path, 'value matcher needs string_match, list_match, or_match, present_match, bool_match, null_match or double_match');
}
