// JSON Web Key Sets for jwt_authn providers: inline (local_jwks) or fetched (remote_jwks).
// Remote sets are fetched by the proxy (not through a cluster), shared per URI across pushes, cached
// for cache_duration (then refreshed in the background while the old set keeps serving), fetched at
// most once at a time, bounded by http_uri.timeout. After a failed
// fetch, requests fail fast ("Jwks remote fetch is failed") until failed_refetch_duration passes,
// as Envoy does, so a JWKS server that is down never makes requests hang.
import type { JSONWebKeySet, LocalJWKSet } from 'jose';

export type KeyResolver = (...args: Parameters<LocalJWKSet>) => ReturnType<LocalJWKSet>;

let joseModule: Promise<typeof import('jose')> | undefined;

/**
 * jose, imported on first need: it costs ~40 ms and several MB, so a sidecar without a jwt_authn
 * filter never loads it. A configured key set starts the import (see parseJwks) before any request.
 */
export function loadJose(): Promise<typeof import('jose')> {
  return (joseModule ??= import('jose'));
}

/** reason: Envoy's text for the client and log; detail: why (for the log only). */
export type JwksResult = { ok: true; keys: KeyResolver } | { ok: false; reason: string; detail?: string };

export interface JwksSource {
  /** The key set to verify with, or why there is none. Never rejects. */
  get(): Promise<JwksResult> | JwksResult;
  readonly describe: string;
}

/** Parses a JWKS document; throws with a reason for bad JSON or a set without usable keys. */
export function parseJwks(text: string): KeyResolver {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('Jwks is an invalid JSON');
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) throw new Error('Jwks is an invalid JSON: no "keys" list');
  // Symmetric (oct) keys are dropped: a public key set must never verify an HMAC token.
  const keys = ((doc as { keys: unknown[] }).keys).filter((k) => !!k && typeof k === 'object' && (k as { kty?: unknown }).kty !== 'oct');
  if (keys.length === 0) throw new Error('Jwks doesn\'t have valid keys');
  loadJose().catch(() => {}); // warm up now; a failed import surfaces at verification
  let set: Promise<LocalJWKSet> | undefined;
  return async (...args) => {
    set ??= loadJose().then((jose) => jose.createLocalJWKSet({ keys } as JSONWebKeySet));
    return (await set)(...args);
  };
}

export class InlineJwks implements JwksSource {
  private readonly result: JwksResult;
  readonly describe = 'local_jwks';
  constructor(text: string) {
    try {
      this.result = { ok: true, keys: parseJwks(text) };
    } catch (e) {
      this.result = { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }
  get(): JwksResult {
    return this.result;
  }
}

export interface RemoteJwksOptions {
  uri: string;
  timeoutMs: number;
  cacheMs: number;
  failedRefetchMs: number;
}

interface Entry {
  keys: KeyResolver | null;
  fetchedAt: number;
  failedAt: number;
  lastError: string;
  inflight: Promise<JwksResult> | null;
}

/** Remote key sets by URI: shared by every provider and push naming the same URI in this process. */
const remote = new Map<string, Entry>();

export class RemoteJwks implements JwksSource {
  readonly describe: string;
  constructor(private readonly o: RemoteJwksOptions) {
    this.describe = `remote_jwks ${o.uri}`;
  }

  private entry(): Entry {
    let e = remote.get(this.o.uri);
    if (!e) remote.set(this.o.uri, (e = { keys: null, fetchedAt: 0, failedAt: 0, lastError: '', inflight: null }));
    return e;
  }

  get(): Promise<JwksResult> | JwksResult {
    const e = this.entry();
    const now = Date.now();
    if (e.keys && now - e.fetchedAt < this.o.cacheMs) return { ok: true, keys: e.keys };
    // Expired but present: refresh in the background and keep verifying with the old set meanwhile.
    if (e.keys) {
      if (!e.inflight && !(e.failedAt && now - e.failedAt < this.o.failedRefetchMs)) this.prefetch();
      return { ok: true, keys: e.keys };
    }
    if (e.inflight) return e.inflight;
    // Never fetched successfully and failed recently: fail fast instead of waiting on the server again.
    if (e.failedAt && now - e.failedAt < this.o.failedRefetchMs) return { ok: false, reason: 'Jwks remote fetch is failed', detail: `${this.o.uri}: ${e.lastError}` };
    this.prefetch();
    return e.inflight ?? { ok: false, reason: 'Jwks remote fetch is failed' };
  }

  /** Starts a fetch now unless one is running (Envoy's async_fetch); errors are remembered, never thrown. */
  prefetch(): void {
    const e = this.entry();
    if (e.inflight) return;
    e.inflight = this.fetch(e).finally(() => {
      e.inflight = null;
    });
  }

  private async fetch(e: Entry): Promise<JwksResult> {
    try {
      const res = await fetch(this.o.uri, { signal: AbortSignal.timeout(this.o.timeoutMs), headers: { accept: 'application/json' }, redirect: 'follow' });
      const text = await res.text();
      if (!res.ok) throw new Error(`status ${res.status}`);
      if (text.length > 1 << 20) throw new Error('document over 1 MiB');
      e.keys = parseJwks(text);
      e.fetchedAt = Date.now();
      e.failedAt = 0;
      e.lastError = '';
      return { ok: true, keys: e.keys };
    } catch (err) {
      const msg = err instanceof Error ? (err.name === 'TimeoutError' ? `timed out after ${this.o.timeoutMs} ms` : err.message) : String(err);
      e.failedAt = Date.now();
      e.lastError = msg;
      return e.keys ? { ok: true, keys: e.keys } : { ok: false, reason: 'Jwks remote fetch is failed', detail: `${this.o.uri}: ${msg}` };
    }
  }
}

/** Forgets every fetched key set (tests). */
export function clearRemoteJwksCache(): void {
  remote.clear();
}
