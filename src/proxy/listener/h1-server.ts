// The lean HTTP/1.1 server path: a per-connection parser for plain keep-alive requests (HTTP/1.1, a
// common method, origin-form target, Host, no duplicate headers, no body or a Content-Length one)
// that hands LeanRequest/LeanResponse pairs to the listener, one request at a time. Anything else
// (Transfer-Encoding, Upgrade, Expect, CONNECT, HTTP/1.0, obs-fold, bytes outside printable ASCII,
// a head over the size limit, any framing doubt) goes to node:http before a byte of that request is
// consumed, so node:http/llhttp answers it exactly as it did before (400/431, upgrades, 100-continue).
import type http from 'node:http';
import type net from 'node:net';
import { LeanRequest, LeanResponse, type ResponseOwner } from './h1-message.js';
import { SLOT_LOWER, SLOT_RAW, nameSlot } from '../hcm/chars.js';

/** What the connection needs from the listener. */
export interface LeanHost {
  readonly maxHeaderSize: number;
  onRequest(req: LeanRequest, res: LeanResponse): void;
  /** Serve the rest of the connection with node:http (`sock` holds the unconsumed bytes). */
  fallback(sock: net.Socket): void;
  /** The connection is gone or handed over. */
  detach(conn: LeanH1Conn): void;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
// RFC 9110 tchar.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;
/** Bytes buffered behind an in-flight request before the socket is paused. */
const PIPELINE_LIMIT = 64 * 1024;
const IDLE_TIMEOUT_MS = 60_000;
/** The end of a head, as a Buffer: a string needle is encoded again on every search. */
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export interface LeanHead {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: string[];
  contentLength: number;
  close: boolean;
}

/**
 * Parses a request head (`s` is its latin1 text up to and including the blank line); null when the
 * request is not a plain one and node:http must take it.
 */
export function parseHead(s: string): LeanHead | null {
  const eol = s.indexOf('\r\n');
  const sp1 = s.indexOf(' ');
  if (sp1 <= 0 || sp1 > eol) return null;
  const method = s.slice(0, sp1);
  if (!METHODS.has(method)) return null;
  const sp2 = s.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 > eol || eol - sp2 !== 9 || s.slice(sp2 + 1, eol) !== 'HTTP/1.1') return null;
  if (s.charCodeAt(sp1 + 1) !== 47 /* / */) return null;
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return null;
  }
  const url = s.slice(sp1 + 1, sp2);
  const headers: http.IncomingHttpHeaders = {};
  const raw: string[] = [];
  let contentLength = 0;
  let close = false;
  let host = false;
  let pos = eol + 2;
  for (;;) {
    const e = s.indexOf('\r\n', pos);
    if (e < 0) return null;
    if (e === pos) break;
    const colon = s.indexOf(':', pos);
    if (colon <= pos || colon > e) return null; // also a line starting with ':' or an obs-fold (SP/HTAB is no tchar)
    for (let i = pos; i < colon; i++) {
      const c = s.charCodeAt(i);
      if (c > 127 || TCHAR[c] !== 1) return null;
    }
    let vs = colon + 1;
    let ve = e;
    while (vs < ve && (s.charCodeAt(vs) === 32 || s.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (s.charCodeAt(ve - 1) === 32 || s.charCodeAt(ve - 1) === 9)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = s.charCodeAt(i);
      if ((c < 0x20 && c !== 9) || c > 0x7e) return null;
    }
    const slot = nameSlot(s, pos, colon);
    const rawName = SLOT_RAW[slot];
    const name = SLOT_LOWER[slot];
    const value = s.slice(vs, ve);
    if (headers[name] !== undefined || name === '__proto__') return null;
    switch (name) {
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
      case 'http2-settings':
        return null;
      case 'host':
        host = true;
        break;
      case 'content-length':
        if (value.length === 0 || value.length > 15) return null;
        for (let i = 0; i < value.length; i++) {
          const c = value.charCodeAt(i);
          if (c < 48 || c > 57) return null;
        }
        contentLength = Number(value);
        break;
      case 'connection': {
        const l = value.toLowerCase();
        if (l === 'close') close = true;
        else if (l !== 'keep-alive') return null;
        break;
      }
    }
    headers[name] = value;
    raw.push(rawName, value);
    pos = e + 2;
  }
  if (!host) return null;
  return { method, url, headers, raw, contentLength, close };
}

/** An incomplete head that can still become a plain request: a method's capital letter first, then text. */
function plausibleStart(buf: Buffer): boolean {
  if (buf[0] < 65 || buf[0] > 90) return false;
  for (let i = 1; i < buf.length; i++) {
    const c = buf[i];
    if ((c < 0x20 && c !== 9 && c !== 13 && (c !== 10 || buf[i - 1] !== 13)) || c > 0x7e) return false; // bare LF too
  }
  return true;
}

/**
 * Lean connections, checked for idleness every quarter of IDLE_TIMEOUT_MS by one unref'd interval:
 * a socket timer would be re-armed by every read and write of every request.
 */
const LIVE = new Set<LeanH1Conn>();
let sweep: NodeJS.Timeout | undefined;

function sweepIdle(): void {
  for (const c of LIVE) c.checkIdle();
}

/** One downstream connection on the lean path; requests are served in order, one at a time. */
export class LeanH1Conn implements ResponseOwner {
  private buf: Buffer | null = null;
  private req: LeanRequest | null = null;
  private res: LeanResponse | null = null;
  /** Body bytes of the current request still to come (read and dropped once its response is done). */
  private bodyLeft = 0;
  private reqPaused = false;
  private bufPaused = false;
  private done = false;
  private scheduled = false;
  private detached = false;
  /** The socket's byte count at the last sweep, and the sweeps since it last changed. */
  private idleBytes = 0;
  private idleSweeps = 0;

  constructor(
    readonly sock: net.Socket,
    private readonly host: LeanHost,
  ) {
    sock.on('data', this.onData);
    sock.on('drain', this.onDrain);
    sock.on('close', this.onClose);
    LIVE.add(this);
    sweep ??= setInterval(sweepIdle, IDLE_TIMEOUT_MS / 4).unref();
  }

  /** From the sweep: no byte either way for IDLE_TIMEOUT_MS (4 sweeps after the last change) is a timeout. */
  checkIdle(): void {
    const b = this.sock.bytesRead + this.sock.bytesWritten;
    if (b !== this.idleBytes) {
      this.idleBytes = b;
      this.idleSweeps = 0;
    } else if (++this.idleSweeps >= 4) {
      this.idleSweeps = 0;
      this.onTimeout();
    }
  }

  /** No request in flight: nothing is lost by closing now. */
  get idle(): boolean {
    return this.res === null && this.bodyLeft === 0;
  }

  /** Draining: close an idle connection, as node:http's closeIdleConnections does. */
  closeIfIdle(): void {
    if (this.idle && !this.done) this.sock.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.done) return;
    if (this.bodyLeft > 0) {
      const n = Math.min(this.bodyLeft, chunk.length);
      this.bodyLeft -= n;
      this.req?.push(n === chunk.length ? chunk : chunk.subarray(0, n), this.bodyLeft === 0);
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.res !== null) {
      if (this.buf.length > PIPELINE_LIMIT) this.setPaused(this.reqPaused, true);
      return;
    }
    this.process();
  };

  private readonly onDrain = (): void => {
    this.res?.emit('drain');
  };

  private readonly onClose = (): void => {
    const res = this.res;
    const req = this.req;
    this.res = null;
    this.req = null;
    if (req && !req.complete) {
      req.emit('aborted');
      req.emit('close');
    }
    res?.aborted();
    this.detach();
  };

  private onTimeout(): void {
    if (this.res !== null || this.done) return; // the stream idle timeout covers requests in flight
    if (this.buf !== null && this.bodyLeft === 0) this.sock.end('HTTP/1.1 408 Request Timeout\r\ncontent-length: 15\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nRequest Timeout');
    else this.sock.destroy();
  }

  private setPaused(req: boolean, buf: boolean): void {
    const was = this.reqPaused || this.bufPaused;
    this.reqPaused = req;
    this.bufPaused = buf;
    const now = req || buf;
    if (now && !was) this.sock.pause();
    else if (!now && was && !this.done) this.sock.resume();
  }

  /** Parses and dispatches the next request in the buffer, if whole. */
  private process(): void {
    const buf = this.buf;
    if (buf === null || this.res !== null || this.bodyLeft > 0 || this.done) return;
    const max = this.host.maxHeaderSize;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      // Leading empty lines (allowed before a request line) and oversized heads: node:http decides.
      if (buf.length > max || !plausibleStart(buf)) this.fallback();
      return;
    }
    const headLen = end + 4;
    const head = headLen > max ? null : parseHead(buf.toString('latin1', 0, headLen));
    if (head === null) {
      this.fallback();
      return;
    }
    const rest = buf.length === headLen ? null : buf.subarray(headLen);
    this.buf = null;
    const cl = head.contentLength;
    const req = new LeanRequest(this.sock, head.method, head.url, head.headers, head.raw, cl > 0, this.onReqFlow);
    const res = new LeanResponse(this.sock, head.method === 'HEAD', head.close, this);
    this.req = req;
    this.res = res;
    this.bodyLeft = cl;
    if (rest !== null) {
      if (cl > 0) {
        const n = Math.min(cl, rest.length);
        this.bodyLeft -= n;
        req.push(n === rest.length ? rest : rest.subarray(0, n), this.bodyLeft === 0);
        if (n < rest.length) this.buf = rest.subarray(n);
      } else this.buf = rest;
    }
    this.host.onRequest(req, res);
  }

  private readonly onReqFlow = (paused: boolean): void => {
    if (this.done) return;
    this.setPaused(paused, this.bufPaused);
  };

  /** ResponseOwner: the response's last byte went to the socket. */
  responseDone(res: LeanResponse, close: boolean): void {
    if (res !== this.res) return;
    this.res = null;
    this.req = null;
    if (close) {
      this.done = true;
      this.sock.end();
      this.detach();
      return;
    }
    this.setPaused(false, false);
    if (this.buf !== null && !this.scheduled) {
      // The next pipelined request, outside the caller's stack (it is inside the previous response's end()).
      this.scheduled = true;
      process.nextTick(() => {
        this.scheduled = false;
        this.process();
      });
    }
  }

  /** Hands the connection, with the bytes not consumed yet, to node:http. */
  private fallback(): void {
    const sock = this.sock;
    const buf = this.buf;
    this.buf = null;
    this.detach();
    sock.setTimeout(0);
    sock.pause();
    if (buf !== null) sock.unshift(buf);
    this.host.fallback(sock);
    sock.resume();
  }

  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.done = true;
    const sock = this.sock;
    sock.removeListener('data', this.onData);
    sock.removeListener('drain', this.onDrain);
    sock.removeListener('close', this.onClose);
    LIVE.delete(this);
    if (LIVE.size === 0 && sweep !== undefined) {
      clearInterval(sweep);
      sweep = undefined;
    }
    this.host.detach(this);
  }
}
