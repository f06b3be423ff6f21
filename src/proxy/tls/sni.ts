// Filter chains chosen by SNI (Envoy's tls_inspector + `filter_chain_match.server_names`), as gateway
// listeners use them: the ClientHello is read (not consumed), its server_name picks the chain (exact
// name, then the longest `*.suffix`, then a chain without server_names), and the connection is either
// terminated with that chain's DownstreamTlsContext (its own certificate) or, with no transport
// socket (PASSTHROUGH), proxied as raw bytes by the chain's tcp_proxy.
import type net from 'node:net';
import type { FilterChain } from '../listener/compile.js';
import type { Logger } from '../env.js';
import type { DownstreamTls } from './downstream.js';

const TLS_HANDSHAKE = 0x16;
const MAX_HELLO_BYTES = 16 * 1024 + 5;
const HELLO_TIMEOUT_MS = 5000;
const chainKey = Symbol('weft.sni.chain');

export interface SniChain { readonly serverNames: readonly string[]; readonly chain: FilterChain; readonly tls: DownstreamTls | null }

/** The filter chain an accepted connection was given (set on the socket the HCM sees). */
export function chainOf(socket: unknown): FilterChain | undefined {
  return (socket as { [chainKey]?: FilterChain } | null)?.[chainKey];
}

function setChain(socket: object, chain: FilterChain): void {
  (socket as { [chainKey]?: FilterChain })[chainKey] = chain;
}

/** parseClientHelloSni's answer when the ClientHello is not complete yet. */
export const NEED_MORE: unique symbol = Symbol('need more bytes');

/**
 * The SNI of a TLS ClientHello: a string (maybe '' when the client sent none), NEED_MORE when more
 * bytes are needed, or null when the bytes are not a ClientHello.
 */
export function parseClientHelloSni(buf: Buffer): string | typeof NEED_MORE | null {
  if (buf.length < 5) return NEED_MORE;
  if (buf[0] !== TLS_HANDSHAKE) return null;
  const recLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recLen) return NEED_MORE;
  let p = 5;
  const end = 5 + recLen;
  if (buf[p] !== 0x01) return null; // handshake type ClientHello
  p += 4 + 2 + 32; // type+length, client_version, random
  if (p + 1 > end) return null;
  p += 1 + buf[p]; // session id
  if (p + 2 > end) return null;
  p += 2 + buf.readUInt16BE(p); // cipher suites
  if (p + 1 > end) return null;
  p += 1 + buf[p]; // compression methods
  if (p + 2 > end) return '';
  const extEnd = Math.min(end, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (type === 0 && p + 5 <= extEnd) { // server_name: list length, name type 0 (host_name), length, name
      const nameLen = buf.readUInt16BE(p + 3);
      if (buf[p + 2] === 0 && p + 5 + nameLen <= extEnd) return buf.toString('latin1', p + 5, p + 5 + nameLen).toLowerCase();
      return '';
    }
    p += len;
  }
  return '';
}

export class SniTable {
  constructor(readonly chains: readonly SniChain[], readonly plaintext: FilterChain | null, private readonly log: Logger) {}

  /** Envoy's order: exact server name, then the longest matching wildcard, then a chain without names. */
  select(sni: string): SniChain | undefined {
    const name = sni.toLowerCase();
    if (name) {
      const exact = this.chains.find((c) => c.serverNames.includes(name));
      if (exact) return exact;
      let best: SniChain | undefined;
      let bestLen = -1;
      for (const c of this.chains) {
        for (const n of c.serverNames) {
          if (n.startsWith('*.') && name.endsWith(n.slice(1)) && n.length > bestLen) {
            best = c;
            bestLen = n.length;
          }
        }
      }
      if (best) return best;
    }
    return this.chains.find((c) => c.serverNames.length === 0);
  }

  /**
   * Reads the ClientHello, picks the chain, and hands the connection on: `onTls` gets the
   * terminated TLS socket, `onRaw` the untouched socket (passthrough, or plaintext when a plaintext
   * chain exists); the chain is recorded on the socket for the HCM (chainOf).
   */
  accept(sock: net.Socket, onTls: (s: net.Socket, chain: FilterChain) => void, onRaw: (s: net.Socket, chain: FilterChain) => void): void {
    const remote = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
    const local = `${sock.localAddress ?? ''}:${sock.localPort ?? ''}`;
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.removeListener('data', onData);
      this.log.warn(`listener ${local}: no TLS ClientHello from ${remote} within ${HELLO_TIMEOUT_MS} ms; closed`);
      sock.destroy();
    }, HELLO_TIMEOUT_MS);
    sock.once('close', () => clearTimeout(timer));
    const handOff = (chain: FilterChain, raw: boolean, tls: DownstreamTls | null): void => {
      sock.pause();
      sock.unshift(buf);
      if (raw || !tls) {
        setChain(sock, chain);
        onRaw(sock, chain);
        sock.resume();
        return;
      }
      tls.accept(sock, false, (s) => {
        setChain(s, chain);
        onTls(s, chain);
      }, () => sock.destroy());
      sock.resume();
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const sni = parseClientHelloSni(buf);
      if (sni === NEED_MORE && buf.length < MAX_HELLO_BYTES) return;
      sock.removeListener('data', onData);
      clearTimeout(timer);
      if (sni === null || sni === NEED_MORE) {
        if (sni === null && buf[0] !== TLS_HANDSHAKE && this.plaintext) {
          handOff(this.plaintext, true, null);
          return;
        }
        this.log.warn(`listener ${local}: connection from ${remote} is not TLS${this.plaintext ? '' : ' and this port serves only TLS'}; closed`);
        sock.destroy();
        return;
      }
      const picked = this.select(sni);
      if (!picked) {
        this.log.warn(`listener ${local}: no filter chain for SNI ${sni ? JSON.stringify(sni) : '(none)'} from ${remote}; closed`);
        sock.destroy();
        return;
      }
      handOff(picked.chain, false, picked.tls);
    };
    sock.on('data', onData);
  }
}
