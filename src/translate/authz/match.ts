// Istio authorization attribute values -> Envoy RBAC Permission / Principal matchers, as Istio's
// pilot/pkg/security/authz/model generators build them. A generator throws AuthzValueError for a
// value it cannot express (bad CIDR, HTTP-only attribute on a TCP chain); the caller decides
// whether that drops the rule (ALLOW) or the value (DENY/AUDIT).
import net from 'node:net';
import type { Obj } from '../envoy.js';

export class AuthzValueError extends Error {}

const SPIFFE = 'spiffe://';

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Istio's StringMatcher: `*` any non-empty value, `x*` prefix, `*x` suffix, else exact. */
export function stringMatcher(v: string, ignoreCase = false): Obj {
  const ic = ignoreCase ? { ignore_case: true } : {};
  if (v === '*') return { safe_regex: { regex: '.+' } };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1), ...ic };
  if (v.startsWith('*')) return { suffix: v.slice(1), ...ic };
  return { exact: v, ...ic };
}

/** Like stringMatcher, with a fixed prefix on the exact/prefix forms (principals get spiffe://). */
function stringMatcherWithPrefix(v: string, prefix: string): Obj {
  if (v === '*') return { safe_regex: { regex: '.+' } };
  if (v.endsWith('*')) return { prefix: prefix + v.slice(0, -1) };
  if (v.startsWith('*')) return { safe_regex: { regex: `${escapeRegex(prefix)}.*${escapeRegex(v.slice(1))}` } };
  return { exact: prefix + v };
}

/** HeaderMatcher: `*` means the header is present. */
export function headerMatcher(name: string, v: string, ignoreCase = false): Obj {
  if (v === '*') return { name, present_match: true };
  return { name, string_match: stringMatcher(v, ignoreCase) };
}

export function cidrRange(v: string): Obj {
  const [addr, len, extra] = v.split('/');
  const family = net.isIP(addr);
  if (family === 0 || extra !== undefined) throw new AuthzValueError(`invalid IP address or CIDR ${JSON.stringify(v)}`);
  const max = family === 4 ? 32 : 128;
  const n = len === undefined ? max : Number(len);
  if (!Number.isInteger(n) || n < 0 || n > max || (len !== undefined && !/^\d+$/.test(len))) throw new AuthzValueError(`invalid prefix length in ${JSON.stringify(v)}`);
  return { address_prefix: addr, prefix_len: { value: n } };
}

export function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 0 || n > 65535) throw new AuthzValueError(`invalid port ${JSON.stringify(v)}`);
  return n;
}

/** `/a/{*}/b` and `/{**}/x` path templates as a full-match regex; other paths as Istio's StringMatcher. */
export function pathMatcher(v: string): Obj {
  if (v.includes('{*}') || v.includes('{**}')) {
    const re = v.split(/(\{\*\*\}|\{\*\})/).map((part) => (part === '{**}' ? '.*' : part === '{*}' ? '[^/]+' : escapeRegex(part))).join('');
    return { safe_regex: { regex: re } };
  }
  return stringMatcher(v);
}

export function authenticated(m: Obj): Obj {
  return { authenticated: { principal_name: m } };
}

export function principalMatcher(v: string): Obj {
  return authenticated(stringMatcherWithPrefix(v, SPIFFE));
}

export function namespaceMatcher(v: string): Obj {
  const ns = v.split('*').map(escapeRegex).join('.*');
  return authenticated({ safe_regex: { regex: `.*/ns/${ns}/.*` } });
}

/** serviceAccounts: `<name>` (the policy's namespace) or `<namespace>/<name>`. */
export function serviceAccountMatcher(v: string, policyNamespace: string): Obj {
  const slash = v.indexOf('/');
  const ns = slash < 0 ? policyNamespace : v.slice(0, slash);
  const sa = slash < 0 ? v : v.slice(slash + 1);
  return authenticated({ safe_regex: { regex: `spiffe://.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(sa)}(/.+)?` } });
}

export function authnMetadata(keys: string[], value: Obj): Obj {
  return { metadata: { filter: 'istio_authn', path: keys.map((key) => ({ key })), value } };
}

/** `request.auth.claims[a][b]` -> ['a', 'b']. */
export function claimNames(key: string, prefix: string): string[] {
  const rest = key.slice(prefix.length);
  const names: string[] = [];
  const re = /\[([^\]]+)\]/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(rest)) !== null) {
    names.push(m[1]);
    at = re.lastIndex;
  }
  if (names.length === 0 || at !== rest.length) throw new AuthzValueError(`invalid attribute ${JSON.stringify(key)}: want ${prefix}[name]`);
  return names;
}

export type Side = 'permission' | 'principal';

/** One attribute value -> its Envoy matcher, and which side of the policy it belongs to. */
export interface Attribute {
  readonly side: Side;
  readonly httpOnly: boolean;
  make(value: string): Obj;
}

/** Attributes of `from.source`, `to.operation` and `when` keys. */
export function attribute(key: string, policyNamespace: string): Attribute {
  const perm = (httpOnly: boolean, make: (v: string) => Obj): Attribute => ({ side: 'permission', httpOnly, make });
  const princ = (httpOnly: boolean, make: (v: string) => Obj): Attribute => ({ side: 'principal', httpOnly, make });
  switch (key) {
    case 'hosts': return perm(true, (v) => ({ header: headerMatcher(':authority', v, true) }));
    case 'methods': return perm(true, (v) => ({ header: headerMatcher(':method', v) }));
    case 'paths': return perm(true, (v) => ({ url_path: { path: pathMatcher(v) } }));
    case 'ports':
    case 'destination.port': return perm(false, (v) => ({ destination_port: port(v) }));
    case 'destination.ip': return perm(false, (v) => ({ destination_ip: cidrRange(v) }));
    case 'connection.sni': return perm(false, (v) => ({ requested_server_name: stringMatcher(v) }));
    case 'principals':
    case 'source.principal': return princ(false, principalMatcher);
    case 'namespaces':
    case 'source.namespace': return princ(false, namespaceMatcher);
    case 'serviceAccounts': return princ(false, (v) => serviceAccountMatcher(v, policyNamespace));
    case 'ipBlocks':
    case 'source.ip': return princ(false, (v) => ({ direct_remote_ip: cidrRange(v) }));
    case 'remoteIpBlocks':
    case 'remote.ip': return princ(false, (v) => ({ remote_ip: cidrRange(v) }));
    case 'requestPrincipals':
    case 'request.auth.principal': return princ(true, (v) => authnMetadata(['request.auth.principal'], { string_match: stringMatcher(v) }));
    case 'request.auth.audiences': return princ(true, (v) => authnMetadata(['request.auth.audiences'], { string_match: stringMatcher(v) }));
    case 'request.auth.presenter': return princ(true, (v) => authnMetadata(['request.auth.presenter'], { string_match: stringMatcher(v) }));
    default:
      break;
  }
  if (key.startsWith('request.headers')) {
    const [name] = claimNames(key, 'request.headers');
    return princ(true, (v) => ({ header: headerMatcher(name, v) }));
  }
  if (key.startsWith('request.auth.claims')) {
    const names = claimNames(key, 'request.auth.claims');
    return princ(true, (v) => authnMetadata(['request.auth.claims', ...names], { list_match: { one_of: { string_match: stringMatcher(v) } } }));
  }
  if (key.startsWith('experimental.envoy.filters.')) {
    const open = key.indexOf('[');
    if (open < 0 || !key.endsWith(']')) throw new AuthzValueError(`invalid attribute ${JSON.stringify(key)}`);
    const filter = key.slice('experimental.'.length, open);
    const inner = key.slice(open + 1, -1);
    return perm(false, (v) => ({ metadata: { filter, path: [{ key: inner }], value: v.startsWith('[') && v.endsWith(']') ? { list_match: { one_of: { string_match: stringMatcher(v.slice(1, -1)) } } } : { string_match: stringMatcher(v) } } }));
  }
  throw new AuthzValueError(`unknown attribute ${JSON.stringify(key)}`);
}
