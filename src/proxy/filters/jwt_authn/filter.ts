// The jwt_authn HTTP filter: finds tokens where each provider says, checks the rule's requirement
// (Istio: requires_any [providers..., allow_missing]: no token passes, a bad token is a 401), sets
// ctx.authn for RBAC, removes or forwards the token and writes the payload/claim headers.
import type { Stream } from '../../hcm/stream.js';
import type { HttpFilter, HttpFilterContext, RequestAuthn } from '../types.js';
import type { JwtAuthnConfig, Provider, Requirement } from './config.js';
import { UNKNOWN_ISSUER, audiencesOf, verifyJwt } from './verify.js';

interface Found { provider: Provider; token: string; header?: string }
interface Verified { provider: Provider; token: string; header?: string; payload: Record<string, unknown>; payloadB64: string }

type Outcome = { kind: 'ok' } | { kind: 'missing' } | { kind: 'fail'; reason: string; detail?: string };

/** Per-request state: tokens verified once even when several requirements name the same provider. */
class Attempt {
  readonly verified: Verified[] = [];
  private readonly cache = new Map<string, Promise<Outcome>>();
  constructor(readonly ctx: HttpFilterContext, private readonly providers: readonly Provider[]) {}

  extract(p: Provider): Found[] {
    const out: Found[] = [];
    const h = this.ctx.view.headers;
    for (const loc of p.fromHeaders) {
      const raw = h[loc.name];
      const v = Array.isArray(raw) ? raw[0] : raw;
      if (typeof v !== 'string') continue;
      if (loc.prefix) {
        // Envoy matches the prefix case-sensitively, except the conventional "Bearer ".
        const i = v.toLowerCase().indexOf(loc.prefix.toLowerCase());
        if (i !== 0) continue;
        const t = v.slice(loc.prefix.length).trim();
        if (t) out.push({ provider: p, token: t, header: loc.name });
      } else if (v.trim()) out.push({ provider: p, token: v.trim(), header: loc.name });
    }
    if (p.fromParams.length > 0) {
      const q = this.ctx.view.path.indexOf('?');
      if (q >= 0) {
        const params = new URLSearchParams(this.ctx.view.path.slice(q + 1));
        for (const name of p.fromParams) {
          const t = params.get(name);
          if (t) out.push({ provider: p, token: t });
        }
      }
    }
    if (p.fromCookies.length > 0) {
      const cookie = h.cookie;
      if (typeof cookie === 'string') {
        for (const part of cookie.split(';')) {
          const eq = part.indexOf('=');
          if (eq < 0) continue;
          const k = part.slice(0, eq).trim();
          if (p.fromCookies.includes(k)) out.push({ provider: p, token: part.slice(eq + 1).trim() });
        }
      }
    }
    return out;
  }

  provider(p: Provider, audiences: readonly string[] | null): Promise<Outcome> {
    const key = `${p.name}|${audiences?.join(',') ?? ''}`;
    let r = this.cache.get(key);
    if (!r) this.cache.set(key, (r = this.verifyProvider(p, audiences)));
    return r;
  }

  private async verifyProvider(p: Provider, audiences: readonly string[] | null): Promise<Outcome> {
    const found = this.extract(p);
    if (found.length === 0) return { kind: 'missing' };
    let failure: Outcome | undefined;
    for (const f of found) {
      const key = audiences ? `${audiences.join(',')}|${f.token}` : f.token;
      const hit = p.verified.get(key, p.clockSkewSec);
      const r = hit ? { ok: true as const, ...hit } : await verifyJwt(f.token, { issuer: p.issuer, audiences: audiences ?? p.audiences, clockSkewSec: p.clockSkewSec, jwks: p.jwks });
      if (r.ok) {
        if (!hit) p.verified.set(key, { payload: r.payload, payloadB64: r.payloadB64 });
        if (!this.verified.some((v) => v.token === f.token)) this.verified.push({ ...f, payload: r.payload, payloadB64: r.payloadB64 });
        return { kind: 'ok' };
      }
      failure ??= { kind: 'fail', reason: r.reason, detail: r.detail };
    }
    return failure ?? { kind: 'missing' };
  }

  /** Every provider's tokens, for allow_missing*: verified ones still count, failures are remembered. */
  async all(): Promise<Outcome> {
    const results: Outcome[] = [];
    for (const p of this.providers) results.push(await this.provider(p, null));
    return worst(results) ?? (results.some((r) => r.kind === 'ok') ? { kind: 'ok' } : { kind: 'missing' });
  }
}

/**
 * As Envoy aggregates failures: a real verification error outranks "issuer not configured" (the
 * token was meant for another provider), which outranks a missing token (undefined: no failure).
 */
function worst(results: readonly Outcome[]): Outcome | undefined {
  return results.find((o) => o.kind === 'fail' && o.reason !== UNKNOWN_ISSUER) ?? results.find((o) => o.kind === 'fail');
}

async function check(req: Requirement, a: Attempt): Promise<Outcome> {
  switch (req.kind) {
    case 'provider':
      return a.provider(req.provider, req.audiences);
    case 'allow_missing_or_failed':
      await a.all();
      return { kind: 'ok' };
    case 'allow_missing': {
      const r = await a.all();
      return r.kind === 'fail' ? r : { kind: 'ok' };
    }
    case 'all': {
      for (const r of req.of) {
        const o = await check(r, a);
        if (o.kind !== 'ok') return o;
      }
      return { kind: 'ok' };
    }
    case 'any': {
      // allow_missing inside requires_any passes only when no other requirement found a token.
      const results: Outcome[] = [];
      for (const r of req.of) {
        if (r.kind === 'allow_missing') continue;
        const o = await check(r, a);
        if (o.kind === 'ok') return o;
        results.push(o);
      }
      const failed = worst(results);
      if (req.of.some((r) => r.kind === 'allow_missing_or_failed')) return { kind: 'ok' };
      if (failed) return failed;
      if (req.of.some((r) => r.kind === 'allow_missing')) return { kind: 'ok' };
      return { kind: 'missing' };
    }
  }
}

function claimValue(payload: Record<string, unknown>, name: string): string | undefined {
  let v: unknown = payload[name];
  if (v === undefined && name.includes('.')) {
    v = payload;
    for (const part of name.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(String).join(',');
  return undefined;
}

export class JwtAuthnFilter implements HttpFilter {
  private readonly providerList: readonly Provider[];
  constructor(private readonly config: JwtAuthnConfig) {
    this.providerList = [...config.providers.values()];
  }

  onRequestHeaders(ctx: HttpFilterContext): 'continue' | Promise<'continue' | 'stop'> {
    const view = ctx.view;
    if (this.config.bypassCorsPreflight && view.method === 'OPTIONS' && view.headers.origin !== undefined && view.headers['access-control-request-method'] !== undefined) return 'continue';
    const rule = this.config.rules.find((r) => r.matches(view.pathOnly));
    if (!rule?.requires) return 'continue';
    return this.run(ctx, rule.requires);
  }

  private async run(ctx: HttpFilterContext, req: Requirement): Promise<'continue' | 'stop'> {
    const a = new Attempt(ctx, this.providerList);
    const o = await check(req, a);
    if (o.kind !== 'ok') {
      const reason = o.kind === 'missing' ? 'Jwt is missing' : o.reason;
      ctx.responseCodeDetails = `jwt_authn_access_denied{${reason.replace(/\s+/g, '_')}}`;
      const s = ctx as Stream;
      s.env?.log.warn(`jwt_authn: rejected ${ctx.view.method} ${ctx.view.authority}${ctx.view.pathOnly} (request id ${ctx.requestId || '-'}): ${reason}${o.kind === 'fail' && o.detail ? ` (${o.detail})` : ''}`);
      const realm = `http://${ctx.view.authority}${ctx.view.pathOnly}`;
      ctx.sendLocalReply(401, reason, undefined, { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` });
      return 'stop';
    }
    const first = a.verified[0];
    if (first) ctx.authn = toAuthn(first.payload, first.provider.spaceDelimitedClaims);
    const h = ctx.requestHeaders;
    for (const v of a.verified) {
      const p = v.provider;
      if (!p.forward && v.header) delete h[v.header];
      if (p.forwardPayloadHeader) h[p.forwardPayloadHeader] = v.payloadB64;
      for (const c of p.claimToHeaders) {
        const val = claimValue(v.payload, c.claim);
        if (val !== undefined) h[c.header] = val;
      }
    }
    return 'continue';
  }
}

/** Istio's request.auth.* attributes of a verified payload. */
export function toAuthn(payload: Record<string, unknown>, spaceDelimited: readonly string[] = []): RequestAuthn {
  const iss = typeof payload.iss === 'string' ? payload.iss : '';
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  let claims = payload;
  for (const name of spaceDelimited) {
    const v = payload[name];
    if (typeof v === 'string') {
      if (claims === payload) claims = { ...payload };
      claims[name] = v.split(' ').filter(Boolean);
    }
  }
  return { principal: `${iss}/${sub}`, claims, audiences: audiencesOf(payload), presenter: typeof payload.azp === 'string' ? payload.azp : '' };
}
