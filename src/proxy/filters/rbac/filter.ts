// The HTTP RBAC filter: shadow rules are evaluated for stats and logs only, then the enforced rules
// decide. A denial is a 403 "RBAC: access denied"; the matched policy goes to the access log
// (response code details), the stats and the proxy log, never to the client.
import type { Stream } from '../../hcm/stream.js';
import type { RequestView } from '../../router/request.js';
import type { HttpFilter, HttpFilterContext, RequestAuthn } from '../types.js';
import type { RbacConfig } from './config.js';
import { RBAC_FILTER_NAME } from './config.js';
import { type ConnectionFacts, type PeerInfoSource, downstreamSocket, requestFacts } from './connection.js';
import { type RbacEngine, type RbacInput, evaluate } from './engine.js';
import { setDynamicMetadata } from '../dynamic-metadata.js';

export const RBAC_DENIED_BODY = 'RBAC: access denied';

/** RbacInput over one HTTP request; connection facts are computed once per connection. */
export class HttpRbacInput implements RbacInput {
  private remote: string | undefined;

  constructor(
    readonly view: RequestView,
    private readonly facts: ConnectionFacts,
    private readonly authn: RequestAuthn | null,
    /** HCM use_remote_address: trust the peer address instead of x-forwarded-for. */
    private readonly useRemoteAddress: boolean,
  ) {}

  get directRemoteIp(): string { return this.facts.directRemoteIp; }
  get destinationIp(): string { return this.facts.destinationIp; }
  get destinationPort(): number { return this.facts.destinationPort; }
  get sni(): string { return this.facts.sni; }
  get peerPrincipal(): string { return this.facts.peerPrincipal; }
  get authenticated(): boolean { return this.facts.authenticated; }

  /** Envoy without use_remote_address (xff_num_trusted_hops 0): the last x-forwarded-for address. */
  get remoteIp(): string {
    if (this.remote === undefined) {
      const xff = this.view.headers['x-forwarded-for'];
      const s = Array.isArray(xff) ? xff.join(',') : xff;
      const last = !this.useRemoteAddress && s ? s.slice(s.lastIndexOf(',') + 1).trim() : '';
      this.remote = last || this.facts.directRemoteIp;
    }
    return this.remote;
  }

  metadata(filter: string, path: readonly string[]): unknown {
    return authnMetadata(this.authn, this.facts, filter, path);
  }
}

/** Istio's istio_authn dynamic metadata (and jwt_authn's payload) from the typed request fields. */
export function authnMetadata(a: RequestAuthn | null, facts: ConnectionFacts, filter: string, path: readonly string[]): unknown {
  if (filter === 'istio_authn') {
    switch (path[0]) {
      case 'request.auth.principal': return a?.principal;
      case 'request.auth.audiences': return a ? [...a.audiences] : undefined;
      case 'request.auth.presenter': return a?.presenter || undefined;
      case 'request.auth.claims': return a ? claimAt(a.claims, path.slice(1)) : undefined;
      case 'source.principal': return facts.peerPrincipal.replace(/^spiffe:\/\//, '') || undefined;
      case 'source.namespace': {
        const m = /\/ns\/([^/]+)\//.exec(facts.peerPrincipal);
        return m ? m[1] : undefined;
      }
      default: return undefined;
    }
  }
  if (filter === 'envoy.filters.http.jwt_authn' && a) return path.length === 0 ? a.claims : claimAt(a.claims, path.slice(1), false);
  return undefined;
}

/** A claim by nested names; Istio matches claims as lists of strings (a string claim is a one-element list). */
function claimAt(claims: Readonly<Record<string, unknown>>, names: readonly string[], asList = true): unknown {
  let v: unknown = claims;
  for (const n of names) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[n];
  }
  if (!asList || v === undefined) return v;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  return v;
}

type Counters = Record<string, number>;
/** Per HCM and rules_stat_prefix: looked up once per request without building the name. */
const countersByHcm = new WeakMap<object, Map<string, Counters>>();

function counters(s: Stream, config: RbacConfig): Counters {
  let byPrefix = countersByHcm.get(s.hcm);
  if (!byPrefix) countersByHcm.set(s.hcm, (byPrefix = new Map()));
  let c = byPrefix.get(config.rulesStatPrefix);
  if (!c) {
    c = s.env.stats.group(`http.${s.hcm.statPrefix}.${config.rulesStatPrefix}rbac`);
    for (const k of ['allowed', 'denied']) c[k] ??= 0;
    byPrefix.set(config.rulesStatPrefix, c);
  }
  return c;
}

function bump(c: Counters, k: string): void {
  c[k] = (c[k] ?? 0) + 1;
}

export class RbacFilter implements HttpFilter {
  constructor(private readonly config: RbacConfig) {}

  onRequestHeaders(ctx: HttpFilterContext): 'continue' | 'stop' {
    const perRoute = ctx.perFilterConfig(RBAC_FILTER_NAME);
    const config = perRoute === undefined ? this.config : (perRoute as RbacConfig | null);
    if (!config || (!config.rules && !config.shadow)) return 'continue';
    const s = ctx as Stream;
    const input = new HttpRbacInput(ctx.view, requestFacts(ctx as PeerInfoSource, downstreamSocket(s.req)), ctx.authn, s.hcm?.resource?.use_remote_address === true || (s.hcm?.resource?.use_remote_address as { value?: boolean } | undefined)?.value === true);
    const c = s.hcm ? counters(s, config) : {};
    if (config.shadow) this.shadow(s, config, config.shadow, input, c);
    if (!config.rules) return 'continue';
    const d = evaluate(config.rules, input);
    if (config.rules.action === 'LOG') {
      bump(c, d.policyId ? 'logged' : 'not_logged');
      return 'continue';
    }
    if (config.trackPerRuleStats && d.policyId) bump(c, `policy.${d.policyId}.${d.allowed ? 'allowed' : 'denied'}`);
    if (d.allowed) {
      bump(c, 'allowed');
      return 'continue';
    }
    bump(c, 'denied');
    const policy = d.policyId || 'none';
    ctx.responseCodeDetails = `rbac_access_denied_matched_policy[${policy}]`;
    s.env?.log.warn(`rbac: denied ${ctx.view.method} ${ctx.view.authority}${ctx.view.pathOnly} from ${input.peerPrincipal || input.directRemoteIp} (request id ${ctx.requestId || '-'}): ${config.rules.action} policy ${policy}`);
    ctx.sendLocalReply(403, RBAC_DENIED_BODY);
    return 'stop';
  }

  private shadow(s: Stream, config: RbacConfig, engine: RbacEngine, input: HttpRbacInput, c: Counters): void {
    const d = evaluate(engine, input);
    // Envoy's shadow dynamic metadata (ext_authz filter_enabled_metadata reads it: Istio CUSTOM).
    if (d.policyId) setDynamicMetadata(s, RBAC_FILTER_NAME, `${config.shadowStatPrefix}shadow_effective_policy_id`, d.policyId);
    setDynamicMetadata(s, RBAC_FILTER_NAME, `${config.shadowStatPrefix}shadow_engine_result`, d.allowed ? 'allowed' : 'denied');
    if (engine.action === 'LOG') return;
    bump(c, `${config.shadowStatPrefix}shadow_${d.allowed ? 'allowed' : 'denied'}`);
    if (config.trackPerRuleStats && d.policyId) bump(c, `policy.${config.shadowStatPrefix}${d.policyId}.shadow_${d.allowed ? 'allowed' : 'denied'}`);
    if (!d.allowed) s.env?.log.warn(`rbac: shadow denied ${input.view.method} ${input.view.authority}${input.view.pathOnly}: policy ${d.policyId || 'none'}`);
  }
}
