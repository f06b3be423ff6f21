// The request and response objects of the lean HTTP/1.1 server path (h1-server.ts): just the part of
// node:http's IncomingMessage/ServerResponse that the HCM stream and the upstream side use, without
// the stream machinery, for plain keep-alive requests (everything else stays on node:http).
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { hasInvalidValueChar, isToken } from '../hcm/chars.js';

const QUEUE_LIMIT = 64 * 1024;
/** Body pieces up to this size are copied behind the head into one write; larger ones are written as they are. */
const JOIN_LIMIT = 16 * 1024;

/** The downstream request: head fields as IncomingMessage has them, and a Content-Length body. */
export class LeanRequest extends EventEmitter {
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly httpVersion = '1.1';
  /** True once the whole body was received. */
  complete: boolean;
  private queue: Buffer[] | null = null;
  private queued = 0;
  private flowing: boolean | null = null;
  private ended = false;
  private endScheduled = false;

  constructor(
    readonly socket: net.Socket,
    readonly method: string,
    readonly url: string,
    readonly headers: http.IncomingHttpHeaders,
    readonly rawHeaders: string[],
    hasBody: boolean,
    private readonly onFlowChange: (paused: boolean) => void,
  ) {
    super();
    this.complete = !hasBody;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own signature
  override on(event: string | symbol, fn: (...args: any[]) => void): this {
    super.on(event, fn);
    if (event === 'data' && this.flowing !== false) this.resume();
    else if (event === 'end' && this.complete && this.flowing === true) this.scheduleEnd();
    return this;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own signature
  override addListener(event: string | symbol, fn: (...args: any[]) => void): this {
    return this.on(event, fn);
  }

  pause(): this {
    if (this.flowing !== false) {
      this.flowing = false;
      if (!this.complete) this.onFlowChange(true);
    }
    return this;
  }

  resume(): this {
    if (this.flowing !== true) {
      this.flowing = true;
      const q = this.queue;
      this.queue = null;
      this.queued = 0;
      if (q) for (const c of q) this.emit('data', c);
      if (this.flowing && !this.complete) this.onFlowChange(false);
      if (this.flowing && this.complete) this.scheduleEnd();
    }
    return this;
  }

  isPaused(): boolean {
    return this.flowing === false;
  }

  /** For an h2 upstream: the body into `w` with backpressure. */
  pipe<T extends NodeJS.WritableStream>(w: T): T {
    this.on('data', (c: Buffer) => {
      if (!w.write(c)) {
        this.pause();
        w.once('drain', () => this.resume());
      }
    });
    this.on('end', () => w.end());
    return w;
  }

  /** From the connection: a body piece (the connection counts Content-Length). */
  push(chunk: Buffer, last: boolean): void {
    if (last) this.complete = true;
    if (chunk.length) {
      if (this.flowing === true && this.queue === null) this.emit('data', chunk);
      else {
        (this.queue ??= []).push(chunk);
        this.queued += chunk.length;
        // Nobody reads yet (an async filter decides first): stop the socket, as IncomingMessage's highWaterMark does.
        if (this.queued > QUEUE_LIMIT && !last && this.flowing !== false) this.onFlowChange(true);
      }
    }
    if (last && this.flowing === true) this.scheduleEnd();
  }

  private scheduleEnd(): void {
    if (this.ended || this.endScheduled) return;
    this.endScheduled = true;
    process.nextTick(() => {
      if (this.ended || !this.flowing) {
        this.endScheduled = false;
        return;
      }
      this.ended = true;
      this.emit('end');
    });
  }
}

// Node's checks for outgoing header names and values (ERR_INVALID_HTTP_TOKEN / ERR_INVALID_CHAR).
function invalidChar(name: string): Error {
  return Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
}

let dateCache = '';
function utcDate(): string {
  if (dateCache === '') {
    dateCache = new Date().toUTCString();
    setTimeout(() => { dateCache = ''; }, 1000 - new Date().getMilliseconds()).unref();
  }
  return dateCache;
}

type Latin1Write = (this: Buffer, s: string, offset: number) => number;
const NATIVE_LATIN1_WRITE = (Buffer.prototype as unknown as { latin1Write?: Latin1Write }).latin1Write;
/** `buf.write(s, offset, 'latin1')` without its argument juggling (Buffer's own latin1Write where there is one). */
function latin1Write(buf: Buffer, s: string, offset: number): number {
  if (s.length === 0) return 0;
  return NATIVE_LATIN1_WRITE !== undefined ? NATIVE_LATIN1_WRITE.call(buf, s, offset) : buf.write(s, offset, 'latin1');
}

/** Where a response reports back to its connection. */
export interface ResponseOwner {
  /** The response's last byte was handed to the socket; `close` says the connection must close. */
  responseDone(res: LeanResponse, close: boolean): void;
}

/** The downstream response: status line and headers, then a Content-Length or chunked body. */
export class LeanResponse extends EventEmitter {
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  statusCode = 200;
  destroyed = false;
  private head = '';
  private chunked = false;
  private noBody = false;
  private trailers: http.OutgoingHttpHeaders | null = null;
  private close: boolean;
  private closeEmitted = false;
  /** The HCM stream of this response: told first when the response closes (no 'close' listener per request). */
  closeHook: { closed(): void } | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly isHead: boolean,
    closeRequested: boolean,
    private readonly owner: ResponseOwner,
  ) {
    super();
    this.close = closeRequested;
  }

  writeHead(status: number, headers?: http.OutgoingHttpHeaders): this {
    if (this.headersSent) throw Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
    this.statusCode = status;
    let s = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let hasLength = false;
    let hasDate = false;
    let hasConnection = false;
    if (headers) {
      for (const k in headers) {
        const v = headers[k];
        if (v === undefined) continue;
        if (!isToken(k)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${k}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
        const lk = k.length === 4 || k.length === 10 || k.length === 14 || k.length === 17 ? k.toLowerCase() : '';
        if (lk === 'content-length') hasLength = true;
        else if (lk === 'date') hasDate = true;
        else if (lk === 'transfer-encoding') continue; // framing is ours
        else if (lk === 'connection') {
          hasConnection = true;
          if (String(v).toLowerCase().includes('close')) this.close = true;
        }
        if (Array.isArray(v)) {
          for (const x of v) {
            const xs = String(x);
            if (hasInvalidValueChar(xs)) throw invalidChar(k);
            s += `${k}: ${xs}\r\n`;
          }
        } else {
          const vs = String(v);
          if (hasInvalidValueChar(vs)) throw invalidChar(k);
          s += `${k}: ${vs}\r\n`;
        }
      }
    }
    this.noBody = this.isHead || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (!hasDate) s += `date: ${utcDate()}\r\n`;
    if (!hasConnection) s += this.close ? 'connection: close\r\n' : 'connection: keep-alive\r\nkeep-alive: timeout=60\r\n';
    if (!hasLength && !this.noBody) {
      this.chunked = true;
      s += 'transfer-encoding: chunked\r\n';
    }
    this.head = `${s}\r\n`;
    this.headersSent = true;
    return this;
  }

  addTrailers(t: http.OutgoingHttpHeaders): void {
    this.trailers = t;
  }

  write(chunk: Buffer | string): boolean {
    if (this.destroyed || this.writableEnded) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const sock = this.socket;
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (len === 0 || this.noBody) {
      if (this.head === '') return true;
      this.flushHead();
      return !sock.writableNeedDrain;
    }
    if (this.head !== '' || this.chunked) {
      // Head, chunk framing and the piece in one write (one system call, no cork/writev).
      const pre = this.chunked ? `${this.head}${len.toString(16)}\r\n` : this.head;
      this.head = '';
      this.writeJoined(pre, chunk, len, this.chunked ? '\r\n' : '', undefined);
      return !sock.writableNeedDrain;
    }
    sock.write(chunk);
    return !sock.writableNeedDrain;
  }

  end(chunk?: Buffer | string | (() => void)): this {
    if (this.writableEnded || this.destroyed) return this;
    const data = typeof chunk === 'string' || Buffer.isBuffer(chunk) ? chunk : null;
    if (!this.headersSent) this.writeHead(this.statusCode, data !== null ? { 'content-length': Buffer.byteLength(data) } : { 'content-length': 0 });
    this.writableEnded = true;
    const len = data === null || this.noBody ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    let tail = '';
    if (this.chunked) {
      tail = '0\r\n';
      const t = this.trailers;
      if (t) {
        for (const k in t) {
          const v = t[k];
          if (v === undefined || !isToken(k)) continue;
          for (const x of Array.isArray(v) ? v : [v]) {
            const xs = String(x);
            if (!hasInvalidValueChar(xs)) tail += `${k}: ${xs}\r\n`;
          }
        }
      }
      tail += '\r\n';
    }
    const finish = (err?: Error | null): void => {
      if (this.writableFinished || this.closeEmitted) return;
      if (err) {
        this.aborted();
        return;
      }
      this.writableFinished = true;
      this.closeEmitted = true;
      this.emit('finish');
      this.closeHook?.closed();
      this.emit('close');
    };
    // Whatever is left (head, last piece with its chunk framing, terminating chunk) in one write.
    let pre = this.head;
    this.head = '';
    if (len > 0) {
      if (this.chunked) {
        pre += `${len.toString(16)}\r\n`;
        tail = `\r\n${tail}`;
      }
      this.writeJoined(pre, data!, len, tail, finish);
    } else this.socket.write(pre + tail, 'latin1', finish);
    this.owner.responseDone(this, this.close);
    if (typeof chunk === 'function') this.once('finish', chunk);
    return this;
  }

  /** The response cannot be completed: the connection goes. */
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.socket.destroy();
    return this;
  }

  /** From the connection: the socket closed before this response finished. */
  aborted(): void {
    if (this.writableFinished || this.closeEmitted) return;
    this.closeEmitted = true;
    this.destroyed = true;
    this.closeHook?.closed();
    this.emit('close');
  }

  private flushHead(): void {
    this.socket.write(this.head, 'latin1');
    this.head = '';
  }

  /** Writes latin1 `pre`, the body piece and latin1 `post` as one buffer (large pieces: corked writes, no copy). */
  private writeJoined(pre: string, chunk: Buffer | string, len: number, post: string, cb: ((err?: Error | null) => void) | undefined): void {
    const sock = this.socket;
    if (len > JOIN_LIMIT) {
      sock.cork();
      if (pre !== '') sock.write(pre, 'latin1');
      sock.write(chunk);
      sock.write(post, 'latin1', cb);
      sock.uncork();
      return;
    }
    const buf = Buffer.allocUnsafe(pre.length + len + post.length);
    let off = latin1Write(buf, pre, 0);
    off += typeof chunk === 'string' ? buf.write(chunk, off, 'utf8') : chunk.copy(buf, off);
    latin1Write(buf, post, off);
    sock.write(buf, cb);
  }
}
