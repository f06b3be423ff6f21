// What the authz filters know about the downstream connection: addresses, SNI and the peer's
// identity from its verified TLS certificate (the URI SAN: spiffe://<trust domain>/ns/<ns>/sa/<sa>).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { peerOf } from '../../tls/index.js';

export interface ConnectionFacts {
  readonly directRemoteIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
  readonly sni: string;
  /** Full URI SAN of the verified peer certificate (with spiffe://), '' when none. */
  readonly peerPrincipal: string;
  readonly authenticated: boolean;
}

/**
 * A peer identity set on the request context (`ctx.connection.peerPrincipal`, with or without
 * `spiffe://`) wins; otherwise the one src/proxy/tls verified on the socket (peerOf), else the
 * TLS socket's own verified certificate.
 */
export interface PeerInfoSource {
  readonly connection?: { readonly peerPrincipal?: string };
}

const cache = new WeakMap<object, ConnectionFacts>();

function stripMapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** First URI SAN of a certificate's subjectaltname string ("URI:spiffe://a/b, DNS:x"). */
export function uriSan(subjectaltname: string | undefined): string {
  if (!subjectaltname) return '';
  for (const part of subjectaltname.split(',')) {
    const p = part.trim();
    if (p.startsWith('URI:')) return p.slice(4);
  }
  return '';
}

/** The connection's socket of a request: h2 requests reach it through their session. */
export function downstreamSocket(req: { httpVersionMajor?: number; socket?: unknown; stream?: { session?: { socket?: unknown } } } | undefined): Socket | undefined {
  if (!req) return undefined;
  const s = req.httpVersionMajor === 2 ? req.stream?.session?.socket : req.socket;
  return (s ?? undefined) as Socket | undefined;
}

/** Facts of a socket, computed once per connection. */
export function socketFacts(socket: Socket | undefined | null): ConnectionFacts {
  if (!socket) return EMPTY;
  const hit = cache.get(socket);
  if (hit) return hit;
  const tls = socket as Partial<TLSSocket>;
  let peerPrincipal = '';
  let authenticated = false;
  let sni = '';
  if (tls.encrypted === true && typeof tls.getPeerCertificate === 'function') {
    sni = typeof tls.servername === 'string' ? tls.servername : '';
    // src/proxy/tls checks client chains itself (so `authorized` may be false under PERMISSIVE).
    const weft = peerOf(socket);
    if (weft) {
      authenticated = true;
      peerPrincipal = weft.peerSpiffe;
    } else if (tls.authorized === true) {
      const cert = tls.getPeerCertificate();
      if (cert && Object.keys(cert).length > 0) {
        authenticated = true;
        const cn = cert.subject?.CN;
        peerPrincipal = uriSan(cert.subjectaltname) || (Array.isArray(cn) ? String(cn[0]) : cn ?? '');
      }
    }
  }
  const facts: ConnectionFacts = {
    directRemoteIp: stripMapped(socket.remoteAddress ?? ''),
    destinationIp: stripMapped(socket.localAddress ?? ''),
    destinationPort: socket.localPort ?? 0,
    sni,
    peerPrincipal,
    authenticated,
  };
  cache.set(socket, facts);
  return facts;
}

/** Facts for a request: the socket's, with the peer principal from the context when the TLS layer set one. */
export function requestFacts(ctx: PeerInfoSource, socket: Socket | undefined | null): ConnectionFacts {
  const f = socketFacts(socket);
  const fromCtx = ctx.connection?.peerPrincipal;
  if (!fromCtx) return f;
  const full = fromCtx.includes('://') ? fromCtx : `spiffe://${fromCtx}`;
  return { ...f, peerPrincipal: full, authenticated: true };
}

const EMPTY: ConnectionFacts = { directRemoteIp: '', destinationIp: '', destinationPort: 0, sni: '', peerPrincipal: '', authenticated: false };
