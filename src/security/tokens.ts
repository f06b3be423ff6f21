// Join tokens: short-lived, single-use credentials weftd issues (to the admin) for one namespace and
// service account; a new sidecar trades one for its first certificate. Only hashes are kept.
import { createHash, randomBytes } from 'node:crypto';

export const DEFAULT_JOIN_TOKEN_TTL_MS = 5 * 60_000;

interface Entry { namespace: string; serviceAccount: string; expiresAt: number; usedAt?: number }

export class TokenRefusal extends Error {}

const hash = (t: string): string => createHash('sha256').update(t).digest('hex');

export class JoinTokens {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: () => number = Date.now) {}

  issue(namespace: string, serviceAccount: string, ttlMs = DEFAULT_JOIN_TOKEN_TTL_MS): { token: string; expiresAt: string } {
    this.sweep();
    const token = `wjt.${randomBytes(24).toString('base64url')}`;
    const expiresAt = this.clock() + ttlMs;
    this.entries.set(hash(token), { namespace, serviceAccount, expiresAt });
    return { token, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Spends a token: its identity, or a TokenRefusal saying why (unknown, replayed, expired). */
  consume(token: string): { namespace: string; serviceAccount: string } {
    const e = this.entries.get(hash(token));
    const now = this.clock();
    if (!e) throw new TokenRefusal('join token unknown (never issued, or expired long ago)');
    if (e.usedAt !== undefined) throw new TokenRefusal(`join token replayed (already used at ${new Date(e.usedAt).toISOString()})`);
    if (now > e.expiresAt) throw new TokenRefusal(`join token expired at ${new Date(e.expiresAt).toISOString()}`);
    e.usedAt = now;
    return { namespace: e.namespace, serviceAccount: e.serviceAccount };
  }

  /** Forgets tokens expired for a while (used ones are remembered until then, to name replays). */
  private sweep(): void {
    const now = this.clock();
    for (const [k, e] of this.entries) if (now > e.expiresAt + 3600_000) this.entries.delete(k);
  }
}
