// Istio HTTPMatchRequest -> Envoy RouteMatch. Conditions Envoy cannot see (source labels, source
// namespace, gateway, port) are decided here, per proxy and listener: a block that cannot apply is dropped.
import type { HTTPMatchRequest, StringMatch } from '../model/index.js';
import { labelsMatch } from '../registry/index.js';
import { stringMatcher, type Obj } from './envoy.js';

export interface MatchScope {
  /** Listener port (sidecar outbound port or Gateway server port). */
  port: number;
  proxyLabels: Readonly<Record<string, string>>;
  proxyNamespace: string;
  /** `mesh` or `namespace/name` of the Gateway being built. */
  gateway: string;
  /** Namespace of the VirtualService: short gateway names are relative to it. */
  vsNamespace: string;
}

/** Whether the proxy/listener-side conditions of a match block hold. */
export function matchApplies(m: HTTPMatchRequest, scope: MatchScope): boolean {
  if (m.port !== undefined && m.port !== scope.port) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, scope.proxyLabels)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== scope.proxyNamespace) return false;
  if (m.gateways && m.gateways.length > 0) {
    const gws = m.gateways.map((g) => (g === 'mesh' || g.includes('/') ? g : `${scope.vsNamespace}/${g}`));
    if (!gws.includes(scope.gateway)) return false;
  }
  return true;
}

function headerMatcher(name: string, sm: StringMatch, invert: boolean): Obj {
  const out: Obj = { name };
  const m = stringMatcher(sm);
  if (m) out.string_match = m;
  else out.present_match = true; // `{}` means "header present"
  if (invert) out.invert_match = true;
  return out;
}

/** Envoy RouteMatch for one match block (none = match everything); undefined when it cannot apply here. */
export function buildRouteMatch(m: HTTPMatchRequest | undefined, scope: MatchScope): Obj | undefined {
  if (!m) return { prefix: '/' };
  if (!matchApplies(m, scope)) return undefined;
  const out: Obj = {};
  const uri = m.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safe_regex = { regex: uri.regex };
  else out.prefix = '/';
  if (m.ignoreUriCase) out.case_sensitive = { value: false };
  const headers: Obj[] = [];
  for (const [name, sm] of Object.entries(m.headers ?? {})) headers.push(headerMatcher(name.toLowerCase(), sm, false));
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) headers.push(headerMatcher(name.toLowerCase(), sm, true));
  if (m.method) headers.push(headerMatcher(':method', m.method, false));
  if (m.authority) headers.push(headerMatcher(':authority', m.authority, false));
  if (m.scheme) headers.push(headerMatcher(':scheme', m.scheme, false));
  if (headers.length > 0) out.headers = headers;
  const qps: Obj[] = [];
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    const q = stringMatcher(sm);
    qps.push(q ? { name, string_match: q } : { name, present_match: true });
  }
  if (qps.length > 0) out.query_parameters = qps;
  return out;
}

/** A match that every request satisfies: routes after it can never be reached. */
export function isCatchAllMatch(match: Obj): boolean {
  const keys = Object.keys(match);
  return keys.length === 1 && (match.prefix === '/' || match.prefix === '');
}
