// One pooled HTTP/1.1 upstream connection and its response parser (the pool is in h1.ts).
// One request at a time (no pipelining); anything the parser does not accept fails the exchange
// like a reset would, and the connection is closed.
import type { IncomingHttpHeaders } from 'node:http';
import type net from 'node:net';
import { SLOT_LOWER, isTokenRange, isTrimmed, nameSlot } from '../hcm/chars.js';

/** What an exchange on a pooled connection reports to (the Attempt). */
export interface H1Exchange {
  /** The connection is this exchange's now; `reused`: it carried a request before. Write the request. */
  h1Assigned(conn: H1Conn, reused: boolean): void;
  /** Final response head (1xx are skipped). */
  h1Head(status: number, headers: IncomingHttpHeaders): void;
  /** A piece of the body; false asks the connection to pause until `conn.resume()`. */
  h1Body(chunk: Buffer): boolean;
  /** The response is complete; `last` is its final body piece, if any. */
  h1Complete(last: Buffer | null, trailers: IncomingHttpHeaders | null): void;
  /** No (complete) response: reset, parse error, connect failure. */
  h1Error(err: Error, reused: boolean): void;
}

/** What a connection reports to its pool. */
export interface ConnOwner {
  /** The response is complete and the connection can take another request. */
  release(c: H1Conn): void;
  /** The socket closed. */
  closed(c: H1Conn): void;
}

/** Reads a response nobody wants. */
const DISCARD: H1Exchange = {
  h1Assigned() {},
  h1Head() {},
  h1Body: () => true,
  h1Complete() {},
  h1Error() {},
};

const enum St { Idle, Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailers, UntilClose }

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** Envoy's max_response_headers_kb default is 60. */
const MAX_HEAD_BYTES = 60 * 1024;
/** node:http keeps the first of these when repeated (and joins the others with ", "). */
const SINGLE = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization',
  'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);
function protocolError(msg: string): Error {
  return Object.assign(new Error(`upstream protocol error: ${msg}`), { code: 'HPE_INVALID_RESPONSE' });
}

/** 1..max ASCII digits (/^\d{1,max}$/). */
function digits(s: string, max: number): boolean {
  const n = s.length;
  if (n === 0 || n > max) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

function addHeader(h: IncomingHttpHeaders, name: string, value: string): void {
  const cur = h[name];
  if (cur === undefined) {
    h[name] = name === 'set-cookie' ? [value] : value;
    return;
  }
  if (name === 'set-cookie') (cur as string[]).push(value);
  else if (SINGLE.has(name)) return;
  else h[name] = `${cur as string}${name === 'cookie' ? '; ' : ', '}${value}`;
}

/**
 * Parses header lines `head[from..]` (each ending in CRLF, the blank line excluded) into `out`:
 * names must be tokens, values are trimmed (as String.prototype.trim) and must hold no control bytes.
 */
function parseFields(head: string, from: number, out: IncomingHttpHeaders): void {
  let i = from;
  const n = head.length;
  while (i < n) {
    let e = head.indexOf('\r\n', i);
    if (e < 0) e = n;
    const c = head.indexOf(':', i);
    if (c < 0 || c > e) throw protocolError('header line without a colon');
    if (!isTokenRange(head, i, c)) throw protocolError('invalid header name');
    const name = SLOT_LOWER[nameSlot(head, i, c)];
    // A repeated Content-Length is refused, as llhttp does (a mismatch is a smuggling vector).
    if (name === 'content-length' && out[name] !== undefined) throw protocolError('repeated Content-Length');
    let vs = c + 1;
    let ve = e;
    while (vs < ve && isTrimmed(head.charCodeAt(vs))) vs++;
    while (ve > vs && isTrimmed(head.charCodeAt(ve - 1))) ve--;
    for (let k = vs; k < ve; k++) {
      const ch = head.charCodeAt(k);
      if (ch < 0x20 ? ch !== 9 : ch === 0x7f) throw protocolError(`invalid value of header ${name}`);
    }
    addHeader(out, name, head.slice(vs, ve));
    i = e + 2;
  }
}
const CONNS = new WeakMap<net.Socket, H1Conn>();

/** One read buffer for every pooled connection: each read is copied out before its callback returns. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * net.connect's and tls.connect's `onread` for a pooled connection: reads land in READ_BUFFER and reach the
 * connection's parser as a copy, without the Readable stream machinery (push, the 'data' event, a
 * nextTick per read). pause()/resume(), 'end', 'error' and 'close' behave as on any socket; sockets
 * without it deliver 'data' events to the same parser.
 */
export function pooledOnRead(): net.OnReadOpts {
  return { buffer: READ_BUFFER, callback: onPooledRead };
}

function onPooledRead(this: net.Socket, n: number, buf: Uint8Array): boolean {
  const c = CONNS.get(this);
  if (c !== undefined) {
    const copy = Buffer.allocUnsafe(n);
    copy.set(buf.subarray(0, n));
    c.onData(copy);
  }
  return true;
}

/** The pooled HTTP/1.1 connection on a socket, if it is one. */
export function h1ConnOf(sock: net.Socket): H1Conn | undefined {
  return CONNS.get(sock);
}

/** One upstream connection and its response parser. */
export class H1Conn {
  /** Requests sent on this connection so far. */
  requests = 0;
  /** False once it must not take another request (max duration, Connection: close, ...). */
  reusable = true;
  /** The pool's sweep count when this connection was last freed (the pool's idle timeout). */
  freeTick = 0;
  private ex: H1Exchange | null = null;
  private reused = false;
  private st = St.Idle;
  private pend: Buffer | null = null;
  private remaining = 0;
  private headRequest = false;
  private keepAlive = true;
  private requestDone = false;
  private trailers: IncomingHttpHeaders | null = null;
  private closed = false;

  constructor(
    private readonly pool: ConnOwner,
    readonly sock: net.Socket,
  ) {
    CONNS.set(sock, this);
    sock.on('data', (b: Buffer) => this.onData(b));
    sock.on('end', () => this.onEnd());
    sock.on('error', (e: Error) => this.fail(e));
    sock.on('close', () => this.onClose());
  }

  get busy(): boolean {
    return this.ex !== null;
  }

  /** Starts an exchange: the caller writes the request from h1Assigned. */
  assign(ex: H1Exchange, headRequest: boolean): void {
    this.ex = ex;
    this.reused = this.requests > 0;
    this.requests++;
    this.st = St.Head;
    this.headRequest = headRequest;
    this.keepAlive = true;
    this.requestDone = false;
    this.trailers = null;
    this.pend = null;
    ex.h1Assigned(this, this.reused);
  }

  write(data: string | Buffer): boolean {
    return typeof data === 'string' ? this.sock.write(data, 'latin1') : this.sock.write(data);
  }

  /** The whole request has been written. */
  endRequest(): void {
    this.requestDone = true;
  }

  resume(): void {
    this.sock.resume();
  }

  /** Ends the connection's life after its current response (max connection duration). */
  expire(): void {
    this.reusable = false;
    if (this.ex === null) this.destroy();
  }

  /** The exchange no longer wants the response (it retries): read and drop it, then reuse the connection. */
  discard(ex: H1Exchange): void {
    if (this.ex === ex) this.ex = DISCARD;
    this.sock.resume();
  }

  /** The exchange is given up (downstream gone, timeout): the connection cannot be reused. */
  abandon(ex: H1Exchange): void {
    if (this.ex !== ex) return;
    this.ex = null;
    this.destroy();
  }

  destroy(): void {
    this.reusable = false;
    this.sock.destroy();
  }

  /** Bytes from the socket ('data' events, or pooledOnRead). */
  onData(b: Buffer): void {
    if (this.ex === null || this.st === St.Idle) {
      // Bytes nobody asked for: the connection's framing cannot be trusted any more.
      this.destroy();
      return;
    }
    if (this.pend !== null) {
      b = Buffer.concat([this.pend, b]);
      this.pend = null;
    }
    try {
      this.parse(b);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private parse(b: Buffer): void {
    let off = 0;
    const n = b.length;
    while (off < n) {
      const ex = this.ex;
      if (ex === null) {
        this.destroy();
        return;
      }
      switch (this.st) {
        case St.Head: {
          const end = b.indexOf(CRLFCRLF, off);
          if (end < 0) {
            if (n - off > MAX_HEAD_BYTES) throw protocolError('response headers too large');
            this.pend = b.subarray(off);
            return;
          }
          if (end - off > MAX_HEAD_BYTES) throw protocolError('response headers too large');
          const head = b.toString('latin1', off, end + 2);
          off = end + 4;
          this.onHead(head, ex);
          if (this.ex === null) return; // abandoned from h1Head: the connection is gone
          if ((this.st as St) === St.Idle) {
            // No body: complete now (the connection may go straight to a queued exchange: stop here).
            this.complete(null, off < n);
            return;
          }
          break;
        }
        case St.Length: {
          const take = Math.min(this.remaining, n - off);
          const piece = b.subarray(off, off + take);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.complete(piece, off < n);
            return;
          }
          if (!ex.h1Body(piece)) this.sock.pause();
          break;
        }
        case St.UntilClose: {
          if (!ex.h1Body(off === 0 ? b : b.subarray(off))) this.sock.pause();
          return;
        }
        case St.ChunkSize: {
          const e = b.indexOf(CRLF, off);
          if (e < 0) {
            if (n - off > 1024) throw protocolError('chunk size line too long');
            this.pend = b.subarray(off);
            return;
          }
          const line = b.toString('latin1', off, e);
          const semi = line.indexOf(';');
          const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw protocolError('invalid chunk size');
          const size = parseInt(hex, 16);
          off = e + 2;
          if (size === 0) this.st = St.Trailers;
          else {
            this.remaining = size;
            this.st = St.ChunkData;
          }
          break;
        }
        case St.ChunkData: {
          const take = Math.min(this.remaining, n - off);
          const piece = b.subarray(off, off + take);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.st = St.ChunkEnd;
          if (!ex.h1Body(piece)) this.sock.pause();
          break;
        }
        case St.ChunkEnd: {
          if (n - off < 2) {
            this.pend = b.subarray(off);
            return;
          }
          if (b[off] !== 13 || b[off + 1] !== 10) throw protocolError('chunk not followed by CRLF');
          off += 2;
          this.st = St.ChunkSize;
          break;
        }
        case St.Trailers: {
          if (n - off >= 2 && b[off] === 13 && b[off + 1] === 10) {
            off += 2;
            this.complete(null, off < n);
            return;
          }
          const end = b.indexOf(CRLFCRLF, off);
          if (end < 0) {
            if (n - off > MAX_HEAD_BYTES) throw protocolError('trailers too large');
            this.pend = b.subarray(off);
            return;
          }
          const t: IncomingHttpHeaders = {};
          parseFields(b.toString('latin1', off, end + 2), 0, t);
          this.trailers = t;
          off = end + 4;
          this.complete(null, off < n);
          return;
        }
        case St.Idle:
          this.destroy();
          return;
      }
    }
  }

  /** Parses a response head and sets the body state (St.Head again after a 1xx, St.Idle: no body). */
  private onHead(head: string, ex: H1Exchange): void {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    if (!head.startsWith('HTTP/1.')) throw protocolError('not an HTTP/1.x status line');
    const minor = head.charCodeAt(7);
    const d0 = head.charCodeAt(9) - 48;
    const d1 = head.charCodeAt(10) - 48;
    const d2 = head.charCodeAt(11) - 48;
    if ((minor !== 48 && minor !== 49) || head.charCodeAt(8) !== 32 || !(d0 >= 1 && d0 <= 9) || !(d1 >= 0 && d1 <= 9) || !(d2 >= 0 && d2 <= 9)) throw protocolError('invalid status line');
    const status = d0 * 100 + d1 * 10 + d2;
    const eol = head.indexOf('\r\n');
    const h: IncomingHttpHeaders = {};
    parseFields(head, eol + 2, h);
    if (status >= 100 && status < 200 && status !== 101) return; // informational: the real head follows
    const conn = h.connection;
    const tokens = conn === undefined ? '' : conn.toLowerCase();
    this.keepAlive = status !== 101 && (minor === 49 ? !tokens.includes('close') : tokens.includes('keep-alive'));
    const te = h['transfer-encoding'];
    const cl = h['content-length'];
    const noBody = this.headRequest || status === 204 || status === 304 || status === 101;
    if (noBody) this.st = St.Idle;
    else if (te !== undefined) {
      if (cl !== undefined) throw protocolError('both Content-Length and Transfer-Encoding');
      if (/(?:^|,)\s*chunked\s*$/i.test(te)) this.st = St.ChunkSize;
      else {
        this.st = St.UntilClose;
        this.keepAlive = false;
      }
    } else if (cl !== undefined) {
      if (!digits(cl, 15)) throw protocolError('invalid Content-Length');
      this.remaining = Number(cl);
      this.st = this.remaining === 0 ? St.Idle : St.Length;
    } else {
      this.st = St.UntilClose;
      this.keepAlive = false;
    }
    ex.h1Head(status, h);
  }

  /** The response is whole: hand it over, then keep or close the connection. */
  private complete(last: Buffer | null, extra: boolean): void {
    const ex = this.ex;
    this.ex = null;
    this.st = St.Idle;
    const keep = this.keepAlive && this.requestDone && this.reusable && !extra && !this.closed;
    if (!keep) this.reusable = false;
    ex?.h1Complete(last, this.trailers);
    this.trailers = null;
    if (keep && this.reusable) this.pool.release(this);
    else this.destroy();
  }

  private onEnd(): void {
    if (this.ex !== null && this.st === St.UntilClose) {
      this.closed = true;
      this.complete(null, false);
      return;
    }
    this.fail(hangUp());
  }

  private fail(err: Error): void {
    const ex = this.ex;
    this.ex = null;
    this.reusable = false;
    this.sock.destroy();
    ex?.h1Error(err, this.reused);
  }

  private onClose(): void {
    this.closed = true;
    this.reusable = false;
    if (this.ex !== null) {
      if (this.st === St.UntilClose) this.complete(null, false);
      else this.fail(hangUp());
    }
    this.pool.closed(this);
  }
}
