// A gRPC client channel over node:http2 with exactly what the ADS client needs: bidirectional
// streams of pre-encoded messages, TLS against a given root, and the call status. The sidecar used
// @grpc/grpc-js for this, which cost ~8 MB of RSS and ~40 ms of every start on top of node:http2.
// Wire format (gRPC over HTTP/2): POST /Service/Method, content-type application/grpc; each message
// is a 1-byte compressed flag (always 0 here), a 4-byte big-endian length and the bytes; the call's
// status is in the trailers (grpc-status, grpc-message), or in the headers of a trailers-only reply.
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';

/** gRPC status codes used here (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GRPC_STATUS = { OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, INTERNAL: 13, UNAVAILABLE: 14 } as const;
const STATUS_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** A message larger than this is refused (a corrupt length must not allocate gigabytes). */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export interface GrpcTls {
  /** PEM of the root the server's certificate must chain to. */
  rootPem: string;
  /** Name the server's certificate must carry (and the SNI sent); default: the address's host. */
  serverName?: string;
}

export interface GrpcStatusObject { code: number; details: string }

/** The events of a call, as @grpc/grpc-js names them: data, then error (non-OK) and status, then end. */
export class GrpcDuplexStream<Req, Resp> extends EventEmitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = 5;
  private inMessage = false;
  private done = false;

  constructor(private readonly call: http2.ClientHttp2Stream, private readonly encode: (r: Req) => Buffer, private readonly decode: (b: Buffer) => Resp) {
    super();
    call.on('response', (headers) => {
      const status = headers[':status'];
      if (status !== 200) return this.finish(GRPC_STATUS.UNAVAILABLE, `HTTP status ${status}`);
      const type = String(headers['content-type'] ?? '');
      if (!type.startsWith('application/grpc')) return this.finish(GRPC_STATUS.UNKNOWN, `content-type ${type || '(none)'} is not gRPC`);
      if (headers['grpc-status'] !== undefined) this.finishFrom(headers); // trailers-only reply
    });
    call.on('data', (chunk: Buffer) => this.onData(chunk));
    call.on('trailers', (trailers) => this.finishFrom(trailers));
    call.on('end', () => this.finish(GRPC_STATUS.INTERNAL, 'stream ended without a status'));
    call.on('error', (e: Error) => this.finish(GRPC_STATUS.UNAVAILABLE, e.message));
    call.on('close', () => this.finish(GRPC_STATUS.UNAVAILABLE, `stream closed (HTTP/2 code ${call.rstCode ?? 0})`));
  }

  write(req: Req): void {
    if (this.done || this.call.destroyed) return;
    const msg = this.encode(req);
    const head = Buffer.allocUnsafe(5);
    head.writeUInt8(0, 0);
    head.writeUInt32BE(msg.length, 1);
    this.call.write(Buffer.concat([head, msg]));
  }

  /** Ends the call from this side (status CANCELLED, as grpc-js reports it). */
  cancel(): void {
    if (!this.call.destroyed) this.call.close(http2.constants.NGHTTP2_CANCEL);
    this.finish(GRPC_STATUS.CANCELLED, 'Cancelled on client');
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= this.need) {
      if (!this.inMessage) {
        const head = this.take(5);
        if (head[0] !== 0) return this.fail(GRPC_STATUS.INTERNAL, 'compressed gRPC message (no compression was negotiated)');
        const len = head.readUInt32BE(1);
        if (len > MAX_MESSAGE_BYTES) return this.fail(GRPC_STATUS.INTERNAL, `gRPC message of ${len} bytes is over ${MAX_MESSAGE_BYTES}`);
        this.inMessage = true;
        this.need = len;
        continue;
      }
      const body = this.take(this.need);
      this.inMessage = false;
      this.need = 5;
      let msg: Resp;
      try {
        msg = this.decode(body);
      } catch (e) {
        return this.fail(GRPC_STATUS.INTERNAL, `cannot decode a response: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.emit('data', msg);
      if (this.done) return;
    }
  }

  /** The first n buffered bytes, concatenating chunks once per message (never per chunk). */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  private fail(code: number, details: string): void {
    if (!this.call.destroyed) this.call.close(http2.constants.NGHTTP2_CANCEL);
    this.finish(code, details);
  }

  private finishFrom(headers: http2.IncomingHttpHeaders): void {
    const code = Number(headers['grpc-status'] ?? GRPC_STATUS.UNKNOWN);
    let details = String(headers['grpc-message'] ?? '');
    try {
      details = decodeURIComponent(details);
    } catch { /* keep it percent-encoded */ }
    this.finish(Number.isInteger(code) ? code : GRPC_STATUS.UNKNOWN, details);
  }

  private finish(code: number, details: string): void {
    if (this.done) return;
    this.done = true;
    this.chunks = [];
    // The call is over: release our half of the HTTP/2 stream too (RST_STREAM NO_ERROR).
    if (!this.call.destroyed && !this.call.closed) this.call.close();
    if (code !== GRPC_STATUS.OK) {
      const err = Object.assign(new Error(`${code} ${STATUS_NAMES[code] ?? 'UNKNOWN'}: ${details}`), { code, details });
      this.emit('error', err);
    }
    this.emit('status', { code, details } satisfies GrpcStatusObject);
    this.emit('end');
  }
}

/** One HTTP/2 connection to a gRPC server, reopened on demand after it closes. */
export class GrpcChannel {
  private session: http2.ClientHttp2Session | undefined;
  private closed = false;

  constructor(private readonly address: string, private readonly tls?: GrpcTls) {}

  /** Opens a bidirectional call; throws only when the channel is closed. */
  bidi<Req, Resp>(path: string, encode: (r: Req) => Buffer, decode: (b: Buffer) => Resp): GrpcDuplexStream<Req, Resp> {
    if (this.closed) throw new Error('channel closed');
    const call = this.connect().request({
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'weft-xds',
    }, { endStream: false });
    return new GrpcDuplexStream(call, encode, decode);
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }

  private connect(): http2.ClientHttp2Session {
    const s0 = this.session;
    if (s0 && !s0.closed && !s0.destroyed) return s0;
    const url = `${this.tls ? 'https' : 'http'}://${this.address}`;
    const s = this.tls
      ? http2.connect(url, { ca: this.tls.rootPem, ...(this.tls.serverName ? { servername: this.tls.serverName } : {}) })
      : http2.connect(url);
    // Connection errors reach every call on the session as stream errors; nothing to do here.
    s.on('error', () => {});
    s.on('close', () => { if (this.session === s) this.session = undefined; });
    this.session = s;
    return s;
  }
}
