// Upstream TLS origination: a cluster's `transport_socket` (UpstreamTlsContext) or Istio's auto-mTLS
// `transport_socket_matches` (endpoints labelled tlsMode=istio get mTLS, the rest plaintext).
// The server must present a chain to the trusted CA and an identity the SAN matchers accept.
import net from 'node:net';
import tls from 'node:tls';
import { type Obj, arr, isObj, obj, str } from '../wire.js';
import { fromStruct } from '../../xds/protos.js';
import type { Logger } from '../env.js';
import { type CommonTls, TlsRefusal, UPSTREAM_TLS, compileCommonTls, tlsTypedConfig } from './context.js';
import type { SecretStore } from './secrets.js';

export const SOCKET_MATCH_KEY = 'envoy.transport_socket_match';

/** The longest a client reuses a TLS session (the server's own ticket lifetime may be shorter). */
const SESSION_TTL_MS = 5 * 60_000;
const MAX_SESSIONS = 1024;

interface CachedSession { ctx: tls.SecureContext; session: Buffer; until: number }

export class UpstreamTls {
  /**
   * TLS sessions by endpoint, for resumption: a new connection to a server we verified recently skips
   * the certificate exchange and both signatures (TLS 1.3 PSK with a fresh ECDHE). Only sessions of a
   * connection whose server passed verification (chain and SAN matchers) are kept, and only for the
   * SecureContext (our certificate version) they were made with, at most SESSION_TTL_MS and never past
   * the server certificate's notAfter. A ticket is only accepted by the server process and context
   * that issued it, so a resumed session is that verified server; anything else gets a full handshake.
   * The cache lives as long as this compiled config, so changed SAN matchers start afresh.
   */
  private readonly sessions = new Map<string, CachedSession>();

  constructor(
    readonly common: CommonTls,
    readonly sni: string,
    /** Auto mTLS: without a certificate of our own yet, connect in plaintext instead of failing. */
    readonly plaintextWithoutCert: boolean,
    private readonly log: Logger,
  ) {}

  /** Opens the connection (TLS, or plaintext for auto mTLS before the proxy has its certificate). */
  /** `onread`: as net.connect's (the pooled HTTP/1.1 connections read without the Readable stream layer). */
  connect(host: string, port: number, onread?: net.OnReadOpts): net.Socket {
    let ctx: tls.SecureContext;
    try {
      ctx = this.common.secureContext();
    } catch (e) {
      if (e instanceof TlsRefusal && this.plaintextWithoutCert) return net.createConnection({ host, port, noDelay: true });
      // Fails like a refused connection (503 UF upstream), never as an exception in the caller.
      this.log.warn(`upstream TLS to ${host}:${port} not attempted: ${(e as Error).message}`);
      const dead = new net.Socket();
      process.nextTick(() => dead.destroy(Object.assign(new Error((e as Error).message), { code: 'ECONNREFUSED' })));
      return dead;
    }
    const key = `${host}:${port}`;
    const now = Date.now();
    let cached = this.sessions.get(key);
    if (cached && (cached.ctx !== ctx || now >= cached.until)) {
      this.sessions.delete(key);
      cached = undefined;
    }
    // Set by checkServerIdentity after a full handshake's verification passed: the server certificate's notAfter.
    let verifiedUntil = 0;
    let pending: Buffer | null = null;
    const keep = (session: Buffer): void => {
      if (this.sessions.size >= MAX_SESSIONS) this.sessions.clear();
      this.sessions.set(key, { ctx, session, until: Math.min(Date.now() + SESSION_TTL_MS, verifiedUntil) });
    };
    const s = tls.connect({
      host, port, secureContext: ctx, rejectUnauthorized: true,
      servername: this.sni && !net.isIP(this.sni) ? this.sni : undefined,
      ALPNProtocols: this.common.alpn.length ? [...this.common.alpn] : undefined,
      ...(cached ? { session: cached.session } : {}),
      ...(onread ? { onread } : {}),
      // Node calls this after the chain verified, on full handshakes only (a resumed session was verified when it was made).
      checkServerIdentity: (_h, cert) => {
        const err = this.common.sanError(cert.subjectaltname);
        if (err) return Object.assign(new Error(err), { code: 'ERR_TLS_PEER_IDENTITY' });
        verifiedUntil = Date.parse(cert.valid_to);
        return undefined;
      },
    });
    s.setNoDelay(true);
    s.on('session', (session: Buffer) => {
      // TLS 1.3 tickets come after the handshake; TLS 1.2 ones may come before 'secureConnect'.
      if (s.authorized && !s.isSessionReused() && verifiedUntil > 0) keep(session);
      else if (s.isSessionReused() && cached) this.sessions.set(key, { ctx, session, until: cached.until });
      else pending = session;
    });
    s.once('secureConnect', () => {
      if (pending && verifiedUntil > 0) keep(pending);
      pending = null;
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      // A session the server no longer takes must not fail the next connection too.
      if (cached) this.sessions.delete(key);
      if (!s.encrypted || s.authorized !== true) this.log.warn(`upstream TLS to ${host}:${port} refused: ${err.code ? `${err.code}: ` : ''}${err.message}`);
    });
    return s;
  }
}

/** Picks the transport per endpoint from its metadata (transport_socket_matches), else the cluster's. */
export interface TransportSelector {
  forEndpoint(endpointMetadata: unknown): UpstreamTls | null;
}

function structLike(v: unknown): Obj {
  if (!isObj(v)) return {};
  return isObj(v.fields) ? fromStruct(v) : v;
}

function compileSocket(ts: unknown, secrets: SecretStore, log: Logger, auto: boolean, path: string): UpstreamTls | null {
  const tc = tlsTypedConfig(ts, UPSTREAM_TLS, path);
  if (!tc) return null;
  const common = compileCommonTls(tc.common_tls_context, secrets, `${path}.typed_config.common_tls_context`);
  return new UpstreamTls(common, str(tc.sni, `${path}.typed_config.sni`), auto, log);
}

export function compileUpstreamTransport(c: Obj, secrets: SecretStore, log: Logger, path: string): TransportSelector | null {
  const base = compileSocket(c.transport_socket, secrets, log, false, `${path}.transport_socket`);
  const matches = arr(c.transport_socket_matches, `${path}.transport_socket_matches`).map((raw, i) => {
    const p = `${path}.transport_socket_matches[${i}]`;
    const m = obj(raw, p);
    return { match: structLike(m.match), socket: compileSocket(m.transport_socket, secrets, log, true, `${p}.transport_socket`) };
  });
  if (matches.length === 0) return base ? { forEndpoint: () => base } : null;
  return {
    forEndpoint(md) {
      const fm = isObj(md) && isObj(md.filter_metadata) ? structLike(md.filter_metadata[SOCKET_MATCH_KEY]) : {};
      for (const m of matches) if (Object.entries(m.match).every(([k, v]) => fm[k] === v)) return m.socket;
      return base;
    },
  };
}
