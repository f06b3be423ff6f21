// Local replies to gRPC requests, as Envoy sends them: a trailers-only response (one HEADERS frame
// with END_STREAM) with HTTP status 200, content-type application/grpc, grpc-status mapped from the
// local reply's HTTP status (Envoy's Grpc::Utility::httpToGrpcStatus, from gRPC's
// http-grpc-status-mapping) and grpc-message the percent-encoded body. A reply that already carries a
// grpc-status (a fault abort with grpc_status) keeps it.
import type http from 'node:http';
import type { Headers } from '../router/headers.js';
import type { Stream } from './stream.js';

/** Envoy's HTTP -> gRPC status table: anything not listed is UNKNOWN (2). */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}

/** gRPC's grpc-message encoding: percent-encode '%' and bytes outside printable ASCII (UTF-8 first). */
export function encodeGrpcMessage(msg: string): string {
  let out = '';
  for (const b of Buffer.from(msg, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** Envoy's isGrpcRequestHeaders: content-type application/grpc or application/grpc+<codec> (not gRPC-Web). */
export function isGrpcRequest(headers: http.IncomingHttpHeaders): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc') && (ct.length === 16 || ct.charCodeAt(16) === 43 || ct.charCodeAt(16) === 59);
}

/**
 * Sends `s`'s local reply the gRPC way when the request is gRPC; false (nothing sent) otherwise.
 * Called by Stream.sendLocalReply before any response byte went out.
 */
export function grpcLocalReply(s: Stream, status: number, body: string, headers: Headers | undefined): boolean {
  if (!s.res || !isGrpcRequest(s.view.headers)) return false;
  const h: Headers = { ...headers, 'content-type': 'application/grpc' };
  delete h['content-length'];
  if (h['grpc-status'] === undefined) {
    h['grpc-status'] = String(httpToGrpcStatus(status));
    if (body) h['grpc-message'] = encodeGrpcMessage(body);
  }
  s.encodeHeaders(200, h, true);
  // HTTP/2 answered in one HEADERS frame above; HTTP/1.1 needs the (empty) body ended.
  if (s.req.httpVersionMajor !== 2) (s.res as http.ServerResponse).end();
  return true;
}

/**
 * Envoy's stream idle timeout (HCM stream_idle_timeout, default 5 min; a route's idle_timeout
 * overrides it; 0 disables): a stream with no bytes in either direction for that long gets the local
 * reply "stream timeout" with flag SI: 504 when the request was complete, else 408 (Envoy's
 * maybeRequestTimeoutCode); once response headers went out, the stream is reset instead. Activity is
 * read from the connection's byte counters at a quarter of the timeout. One shared sweep per timeout
 * value checks all its streams (a Set add/delete per request instead of a timer per request).
 */
export function armStreamIdleTimeout(s: Stream): void {
  const ms = s.route?.idleTimeoutMs ?? s.hcm.streamIdleTimeoutMs;
  if (!(ms > 0)) return;
  let sweep = SWEEPS.get(ms);
  if (sweep === undefined) SWEEPS.set(ms, (sweep = new IdleSweep(ms)));
  s.idleBytes = streamBytes(s);
  s.idleSince = s.startMs; // armed from the stream's constructor, right after startMs was read
  sweep.add(s);
}

function streamBytes(s: Stream): number {
  const sock = s.req.socket as { bytesRead?: number; bytesWritten?: number } | null;
  return (sock?.bytesRead ?? 0) + (sock?.bytesWritten ?? 0);
}

const SWEEPS = new Map<number, IdleSweep>();

/** The streams armed with one idle timeout value, checked every quarter of it by one unref'd interval. */
export class IdleSweep {
  private readonly streams = new Set<Stream>();
  private timer: NodeJS.Timeout | undefined;
  private readonly step: number;

  constructor(private readonly ms: number) {
    this.step = Math.max(1, Math.floor(ms / 4));
  }

  add(s: Stream): void {
    this.streams.add(s);
    s.idleSweep = this;
    this.timer ??= setInterval(this.tick, this.step).unref();
  }

  /**
   * Called by the stream's own 'close' handler and before the timeout fires. The interval stays when
   * the set empties (the next tick stops it): at low concurrency the set empties after nearly every
   * request, and a setInterval + unref + clearInterval per request cost more than the sweep saves.
   */
  delete(s: Stream): void {
    s.idleSweep = null;
    this.streams.delete(s);
  }

  private readonly tick = (): void => {
    if (this.streams.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const ms = this.ms;
    for (const s of this.streams) {
      const now = streamBytes(s);
      if (now !== s.idleBytes) {
        s.idleBytes = now;
        s.idleSince = s.env.clock();
      } else if (s.env.clock() - s.idleSince >= ms) {
        this.delete(s);
        onStreamIdle(s);
      }
    }
  };
}

function onStreamIdle(s: Stream): void {
  const abort = s.onAbort;
  s.onAbort = null;
  abort?.();
  if (s.headersSent || !s.res) {
    s.addFlag('SI');
    s.resetDownstream();
    return;
  }
  s.sendLocalReply(s.req.complete ? 504 : 408, 'stream timeout', 'SI');
}
