// Hop-by-hop header handling between downstream and upstream (RFC 9110 7.6.1).
import type { IncomingHttpHeaders } from 'node:http';
import type { Headers } from '../router/headers.js';

const HOP_BY_HOP: Record<string, true> = {
  connection: true, 'keep-alive': true, 'proxy-connection': true, te: true, trailer: true,
  'transfer-encoding': true, upgrade: true, 'http2-settings': true, host: true, expect: true,
};

/** Copies headers without hop-by-hop ones, pseudo headers, and those named in Connection. TE: trailers is kept (gRPC). */
export function forwardableHeaders(src: IncomingHttpHeaders, keepUpgrade: boolean): Headers {
  const out: Headers = {};
  const conn = src.connection;
  const named = connectionTokens(conn);
  for (const k in src) {
    if (k.charCodeAt(0) === 58 /* ':' */) continue;
    if (HOP_BY_HOP[k] === true) {
      if (k === 'te' && src.te === 'trailers') out.te = 'trailers';
      else if (keepUpgrade && k === 'upgrade') out.upgrade = src.upgrade;
      continue;
    }
    if (named !== undefined && named.includes(k)) continue;
    out[k] = src[k];
  }
  if (keepUpgrade) out.connection = 'upgrade';
  return out;
}

/** Response headers from an upstream, minus hop-by-hop and pseudo headers. */
export function responseHeaders(src: IncomingHttpHeaders): Headers {
  const out: Headers = {};
  const conn = src.connection;
  const named = connectionTokens(conn);
  for (const k in src) {
    if (k.charCodeAt(0) === 58) continue;
    if (HOP_BY_HOP[k] === true && k !== 'host' && k !== 'expect') continue;
    if (named !== undefined && named.includes(k)) continue;
    out[k] = src[k];
  }
  return out;
}

/** Header names listed in Connection (undefined for the common single tokens that name no header). */
function connectionTokens(conn: string | undefined): string[] | undefined {
  if (conn === undefined) return undefined;
  const l = conn.toLowerCase();
  if (l === 'keep-alive' || l === 'close' || l === 'upgrade') return undefined;
  return l.split(',').map((s) => s.trim());
}
