// One JWT against one provider, in Envoy's order and with Envoy's failure texts: format, algorithm,
// issuer, lifetime, audiences, then key lookup and signature (jose). Never throws.
import { loadJose, type JwksSource } from './jwks.js';

/** Asymmetric algorithms only: `none` and HMAC (HS*) are refused before any key is looked at. */
export const ALLOWED_ALGS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const ALLOWED = new Set(ALLOWED_ALGS);

/** Tokens longer than this are refused without parsing (headers are bounded anyway; query strings need not be). */
export const MAX_TOKEN_BYTES = 64 * 1024;

export interface ProviderCheck {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly clockSkewSec: number;
  readonly jwks: JwksSource;
}

export type VerifyResult =
  | { ok: true; payload: Record<string, unknown>; payloadB64: string }
  | { ok: false; reason: string; detail?: string };

const B64URL = /^[A-Za-z0-9_-]*$/;
export const UNKNOWN_ISSUER = 'Jwt issuer is not configured';

function decodeJson(part: string): Record<string, unknown> | undefined {
  if (!B64URL.test(part)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Header and payload without verifying anything (for issuer selection and error texts). */
export function parseJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; parts: string[] } | { reason: string } {
  if (token.length > MAX_TOKEN_BYTES) return { reason: `Jwt is too large (over ${MAX_TOKEN_BYTES} bytes)` };
  const parts = token.split('.');
  if (parts.length !== 3) return { reason: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections' };
  const header = decodeJson(parts[0]);
  if (!header) return { reason: 'Jwt header is an invalid Base64url encoded or an invalid JSON' };
  const payload = decodeJson(parts[1]);
  if (!payload) return { reason: 'Jwt payload is an invalid Base64url encoded or an invalid JSON' };
  if (!B64URL.test(parts[2]) || parts[2] === '') return { reason: 'Jwt signature is an invalid Base64url encoded' };
  return { header, payload, parts };
}

export function audiencesOf(payload: Record<string, unknown>): string[] {
  const aud = payload.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

export async function verifyJwt(token: string, p: ProviderCheck, nowSec = Date.now() / 1000): Promise<VerifyResult> {
  const parsed = parseJwt(token);
  if ('reason' in parsed) return { ok: false, reason: parsed.reason };
  const { header, payload, parts } = parsed;
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALLOWED.has(alg)) return { ok: false, reason: `Jwt algorithm ${typeof alg === 'string' ? alg : '(none)'} is not supported` };
  if (p.issuer && payload.iss !== p.issuer) return { ok: false, reason: UNKNOWN_ISSUER };
  for (const k of ['exp', 'nbf', 'iat'] as const) {
    if (payload[k] !== undefined && (typeof payload[k] !== 'number' || !Number.isFinite(payload[k]))) return { ok: false, reason: `Jwt ${k} claim is not a number` };
  }
  if (typeof payload.exp === 'number' && payload.exp + p.clockSkewSec < nowSec) return { ok: false, reason: 'Jwt is expired' };
  if (typeof payload.nbf === 'number' && payload.nbf - p.clockSkewSec > nowSec) return { ok: false, reason: 'Jwt not yet valid' };
  if (p.audiences.length > 0) {
    const aud = audiencesOf(payload);
    if (!aud.some((a) => p.audiences.includes(a))) return { ok: false, reason: 'Audiences in Jwt are not allowed' };
  }
  const jwks = await p.jwks.get();
  if (!jwks.ok) return jwks;
  try {
    const { compactVerify } = await loadJose();
    await compactVerify(token, jwks.keys, { algorithms: [alg] });
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code === 'ERR_JWKS_NO_MATCHING_KEY') return { ok: false, reason: 'Jwks doesn\'t have key to match kid or alg from Jwt' };
    return { ok: false, reason: 'Jwt verification fails' };
  }
  return { ok: true, payload, payloadB64: parts[1] };
}

/**
 * Verified tokens per provider (Envoy's jwt_cache_config, 100 entries by default): a repeated token
 * skips parsing and the signature check until it expires. Failures are never cached.
 */
export class VerifiedCache {
  private readonly m = new Map<string, { payload: Record<string, unknown>; payloadB64: string }>();
  constructor(private readonly max = 100) {}

  get(key: string, skewSec: number, nowSec = Date.now() / 1000): { payload: Record<string, unknown>; payloadB64: string } | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    const { exp, nbf } = e.payload;
    if ((typeof exp === 'number' && exp + skewSec < nowSec) || (typeof nbf === 'number' && nbf - skewSec > nowSec)) {
      this.m.delete(key);
      return undefined;
    }
    return e;
  }

  set(key: string, v: { payload: Record<string, unknown>; payloadB64: string }): void {
    if (this.m.size >= this.max) {
      const oldest = this.m.keys().next();
      if (!oldest.done) this.m.delete(oldest.value);
    }
    this.m.set(key, v);
  }
}
