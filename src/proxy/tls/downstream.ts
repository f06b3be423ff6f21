// Inbound TLS termination (DownstreamTlsContext) and PERMISSIVE detection: the first byte of a
// connection tells a TLS ClientHello (0x16) from plaintext. Client certificates are verified
// against the trusted CA (chain, validity); every refusal is logged with its reason.
import { X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { type Obj, bool, isObj } from '../wire.js';
import type { Logger } from '../env.js';
import { splitPemCerts } from '../../security/pem-text.js';
import { type CommonTls, DOWNSTREAM_TLS, type Material, TlsRefusal, compileCommonTls, tlsTypedConfig } from './context.js';
import type { SecretStore } from './secrets.js';
import { readThroughSharedBuffer } from './shared-read.js';

const TLS_HANDSHAKE = 0x16;
const PEEK_TIMEOUT_MS = 5000;
const peerInfo = Symbol('weft.tls.peer');

export interface PeerInfo {
  localSpiffe: string;
  peerSpiffe: string;
  peerDer: Buffer;
  peerSubject: string;
  /** SHA-256 of the peer certificate's DER, lower-case hex (XFCC Hash=). */
  peerHash: string;
}

/** The verified peer of a TLS connection (h1 socket or h2 session socket), if any. */
export function peerOf(socket: unknown): PeerInfo | undefined {
  return (socket as { [peerInfo]?: PeerInfo } | null)?.[peerInfo];
}

/** How long a verified client certificate is trusted without re-verifying its chain. */
const VERDICT_TTL_MS = 60_000;
const MAX_VERDICTS = 1024;

interface Verdict { rootsKey: string; localKey: string; until: number; info: PeerInfo }

export class DownstreamTls {
  private rootsKey = '';
  private roots: X509Certificate[] = [];
  /**
   * Verdicts by leaf fingerprint, for the current roots and our current certificate: peers reconnect
   * with the same certificate (sidecars open connections all the time), and parsing and verifying the
   * chain in JS cost about a millisecond per handshake. The PeerInfo is shared by every connection of
   * that certificate, so XFCC is built once per certificate (xfcc.ts caches by PeerInfo). Refusals are
   * not cached: their reason is logged each time.
   */
  private verdicts = new Map<string, Verdict>();
  private local: { key: string; spiffe: string } | undefined;

  constructor(readonly common: CommonTls, readonly requireClientCert: boolean, private readonly log: Logger) {}

  private trusted(ca: string | undefined, key: string): X509Certificate[] {
    if (key !== this.rootsKey) {
      this.roots = splitPemCerts(ca ?? '').map((p) => new X509Certificate(p));
      this.rootsKey = key;
    }
    return this.roots;
  }

  /**
   * verifyPeer, remembered for a verified leaf certificate while it, the roots and our own certificate
   * stay the same; the PeerInfo of the connection, or why it is refused. A resumed TLS session is
   * checked the same way: OpenSSL restores the peer's chain from the ticket (which only this context
   * could have issued), and validity is checked against the clock now.
   */
  private checkPeer(ts: tls.TLSSocket, peer: X509Certificate, roots: X509Certificate[], m: Material): PeerInfo | string {
    const now = Date.now();
    const fp = peer.fingerprint256;
    const known = this.verdicts.get(fp);
    if (known && known.rootsKey === this.rootsKey && known.localKey === m.key && now < known.until) return known.info;
    const why = this.verifyPeer(ts, roots);
    if (why) return why;
    const info: PeerInfo = {
      localSpiffe: this.localSpiffe(m), peerSpiffe: uri(peer.subjectAltName), peerDer: peer.raw, peerSubject: peer.subject ?? '',
      peerHash: fp.replace(/:/g, '').toLowerCase(),
    };
    if (this.verdicts.size >= MAX_VERDICTS) this.verdicts.clear();
    this.verdicts.set(fp, { rootsKey: this.rootsKey, localKey: m.key, until: Math.min(now + VERDICT_TTL_MS, Date.parse(peer.validTo)), info });
    return info;
  }

  /** Our own SPIFFE ID (XFCC By=), parsed once per certificate. */
  private localSpiffe(m: Material): string {
    if (!m.cert) return '';
    let local = this.local;
    if (local?.key !== m.key) {
      local = { key: m.key, spiffe: uri(new X509Certificate(splitPemCerts(m.cert.certChainPem)[0] ?? m.cert.certChainPem).subjectAltName) };
      this.local = local;
    }
    return local.spiffe;
  }

  /** Why a presented client chain is not acceptable (undefined = acceptable). */
  private verifyPeer(ts: tls.TLSSocket, roots: X509Certificate[]): string | undefined {
    const chain: X509Certificate[] = [];
    let c = ts.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
    while (c?.raw && chain.length < 8) {
      chain.push(new X509Certificate(c.raw));
      if (c.issuerCertificate === c) break;
      c = c.issuerCertificate;
    }
    if (chain.length === 0) return 'no client certificate';
    const now = Date.now();
    for (const [i, x] of chain.entries()) {
      if (now > Date.parse(x.validTo)) return `client certificate ${i === 0 ? '' : `(chain[${i}]) `}expired at ${new Date(x.validTo).toISOString()}`;
      if (now < Date.parse(x.validFrom)) return `client certificate ${i === 0 ? '' : `(chain[${i}]) `}not valid before ${new Date(x.validFrom).toISOString()}`;
    }
    for (let i = 0; i < chain.length; i++) {
      const cur = chain[i];
      const root = roots.find((r) => cur.checkIssued(r) && cur.verify(r.publicKey));
      if (root) return this.common.sanError(chain[0].subjectAltName);
      const next = chain[i + 1];
      if (!next || !cur.checkIssued(next) || !cur.verify(next.publicKey) || !next.ca) break;
    }
    return `client certificate ${chain[0].subjectAltName ?? chain[0].subject} is not issued by a trusted CA`;
  }

  /**
   * Handles a new connection: TLS is terminated and `onConnection` gets the TLS socket after a
   * successful handshake; plaintext goes to `onPlaintext` when allowed, else the connection is closed.
   */
  accept(sock: net.Socket, plaintextAllowed: boolean, onConnection: (s: net.Socket) => void, onPlaintext: (s: net.Socket) => void): void {
    const remote = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
    // Server-speaks-first protocols send nothing: after a quiet period, PERMISSIVE treats the
    // connection as plaintext (Istio's continue_on_listener_filters_timeout).
    const quiet = plaintextAllowed ? setTimeout(() => {
      sock.removeListener('data', onFirst);
      onPlaintext(sock);
    }, PEEK_TIMEOUT_MS) : undefined;
    sock.once('close', () => clearTimeout(quiet));
    const onFirst = (first: Buffer): void => {
      clearTimeout(quiet);
      sock.pause();
      sock.unshift(first);
      if (first[0] !== TLS_HANDSHAKE) {
        if (plaintextAllowed) {
          onPlaintext(sock);
          sock.resume();
          return;
        }
        this.log.warn(`inbound ${sock.localAddress ?? ''}:${sock.localPort ?? ''}: plaintext connection from ${remote} refused: mTLS required (PeerAuthentication STRICT)`);
        sock.destroy();
        return;
      }
      let m;
      try {
        m = this.common.material();
      } catch (e) {
        this.log.warn(`inbound TLS from ${remote} refused: ${e instanceof TlsRefusal ? e.message : String(e)}`);
        sock.destroy();
        return;
      }
      const roots = this.trusted(m.ca, m.key);
      const ts = new tls.TLSSocket(sock, {
        // A client certificate is asked for only when there is a CA to check it against (SIMPLE gateway TLS has none).
        isServer: true, secureContext: this.common.secureContext(m), requestCert: this.requireClientCert || m.ca !== undefined, rejectUnauthorized: this.requireClientCert,
        ALPNProtocols: this.common.alpn.length ? [...this.common.alpn] : ['h2', 'http/1.1'],
      });
      readThroughSharedBuffer(ts);
      ts.on('error', (err: Error) => this.log.warn(`inbound TLS from ${remote} refused: ${err.message.split('\n')[0]}`));
      ts.once('secure', () => {
        // A standalone server TLSSocket never clears secureConnecting (only tls.Server does): an h2
        // session over it (ALPN h2) would wait for 'secureConnect' forever and crash on buffered data.
        (ts as unknown as { secureConnecting: boolean }).secureConnecting = false;
        const peer = ts.getPeerX509Certificate();
        if (peer || this.requireClientCert) {
          const res = peer ? this.checkPeer(ts, peer, roots, m) : this.verifyPeer(ts, roots);
          if (typeof res === 'string') {
            this.log.warn(`inbound TLS from ${remote} refused: ${res}`);
            ts.destroy();
            return;
          }
          if (res) (ts as unknown as { [peerInfo]: PeerInfo })[peerInfo] = res;
        }
        onConnection(ts);
      });
      // The TLSSocket now reads the raw handle itself (and took the unshifted bytes): no resume here.
    };
    sock.once('data', onFirst);
  }
}

function uri(san: string | undefined): string {
  return (san ?? '').split(/,\s*/).find((s) => s.startsWith('URI:'))?.slice(4) ?? '';
}

export function compileDownstreamTls(ts: unknown, secrets: SecretStore, log: Logger, path: string): DownstreamTls | null {
  const tc: Obj | null = tlsTypedConfig(ts, DOWNSTREAM_TLS, path);
  if (!tc) return null;
  const common = compileCommonTls(tc.common_tls_context, secrets, `${path}.typed_config.common_tls_context`);
  const rcc = isObj(tc.require_client_certificate) ? tc.require_client_certificate.value : tc.require_client_certificate;
  return new DownstreamTls(common, bool(rcc, `${path}.typed_config.require_client_certificate`, false), log);
}
