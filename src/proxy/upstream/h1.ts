// HTTP/1.1 to upstreams without node:http's client: one keep-alive pool per endpoint (LIFO reuse,
// max_connections with a FIFO queue, idle timeout) and the request head as node:http wrote it; the
// connection and its response parser are in h1-conn.ts. Why: the ClientRequest/Agent/IncomingMessage
// machinery was about a third of a sidecar's CPU per request.
import type net from 'node:net';
import { type ConnOwner, H1Conn, type H1Exchange } from './h1-conn.js';
import { hasInvalidValueChar, isToken } from '../hcm/chars.js';

export { H1Conn, type H1Exchange, h1ConnOf, pooledOnRead } from './h1-conn.js';

/** What the pool needs from its endpoint. */
export interface H1Host {
  /** Opens a counted connection (connect timeout, keepalive, TLS). */
  connect(): net.Socket;
  /** Whether another connection may be opened now (max_connections). */
  canOpen(): boolean;
  idleTimeoutMs(): number;
  onIdleTimeout(): void;
}
/** A char node:http refuses in a request path (/[^\u0021-\u00ff]/), as a loop: no RegExp call per request. */
function invalidPath(p: string): boolean {
  for (let i = 0, n = p.length; i < n; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x21 || c > 0xff) return true;
  }
  return false;
}
/** Methods node:http sends without a Content-Length: 0 when they have no body. */
const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * The request line and headers as node:http's client writes them: Connection keep-alive (close when
 * this is the connection's last request), Content-Length: 0 for a bodiless POST/PUT/PATCH, chunked
 * when a body has no length. Throws (like node:http) on bytes HTTP/1.1 cannot carry.
 */
export function requestHead(method: string, path: string, headers: Record<string, string | string[] | undefined>, hasBody: boolean, last: boolean): { head: string; chunked: boolean } {
  if (!isToken(method)) throw Object.assign(new TypeError(`Method must be a valid HTTP token ["${method}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
  if (invalidPath(path)) throw Object.assign(new TypeError('Request path contains unescaped characters'), { code: 'ERR_UNESCAPED_CHARACTERS' });
  let s = `${method} ${path} HTTP/1.1\r\n`;
  let hasLength = false;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    if (!isToken(k)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${k}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    if (typeof v === 'string') {
      if (hasInvalidValueChar(v)) throw Object.assign(new TypeError(`Invalid character in header content ["${k}"]`), { code: 'ERR_INVALID_CHAR' });
      s += `${k}: ${v}\r\n`;
    } else {
      for (const x of v) {
        if (hasInvalidValueChar(x)) throw Object.assign(new TypeError(`Invalid character in header content ["${k}"]`), { code: 'ERR_INVALID_CHAR' });
        s += `${k}: ${x}\r\n`;
      }
    }
    if (k === 'content-length') hasLength = true;
  }
  s += last ? 'connection: close\r\n' : 'connection: keep-alive\r\n';
  let chunked = false;
  if (hasBody && !hasLength) {
    s += 'transfer-encoding: chunked\r\n';
    chunked = true;
  } else if (!hasBody && !hasLength && !NO_BODY_METHODS.has(method)) s += 'content-length: 0\r\n';
  return { head: `${s}\r\n`, chunked };
}
/**
 * The HTTP/1.1 connections of one endpoint. The idle timeout is a sweep every quarter of it while the
 * pool has connections (a free connection is closed once it sat unused for the whole timeout), not a
 * socket timer that every read and write of every request would re-arm.
 */
export class H1Pool implements ConnOwner {
  private readonly free: H1Conn[] = [];
  private readonly queue: { ex: H1Exchange; head: boolean }[] = [];
  /** Open connections (free and busy). */
  open = 0;
  private released = false;
  private sweep: NodeJS.Timeout | undefined;
  /** Sweeps so far; a free connection remembers the count when it was freed. */
  private ticks = 0;
  private sweepMs = 0;

  constructor(readonly host: H1Host) {}

  get idle(): number {
    return this.free.length;
  }

  /** Runs `ex` on a free connection (the last one freed), a new one, or when one frees up. `fresh`: not on a kept-alive one. */
  request(ex: H1Exchange, headRequest: boolean, fresh: boolean): void {
    if (!fresh) {
      const c = this.takeFree();
      if (c) {
        c.assign(ex, headRequest);
        return;
      }
    }
    if (this.host.canOpen()) {
      this.newConn().assign(ex, headRequest);
      return;
    }
    const c = fresh ? this.takeFree() : undefined;
    if (c) c.assign(ex, headRequest);
    else this.queue.push({ ex, head: headRequest });
  }

  /** A queued exchange gives up before it got a connection. */
  cancel(ex: H1Exchange): void {
    const i = this.queue.findIndex((q) => q.ex === ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private takeFree(): H1Conn | undefined {
    for (;;) {
      const c = this.free.pop();
      if (!c) return undefined;
      if (c.reusable && !c.sock.destroyed && c.sock.writable) return c;
      c.destroy();
    }
  }

  private newConn(): H1Conn {
    const sock = this.host.connect();
    this.startSweep();
    this.open++;
    return new H1Conn(this, sock);
  }

  /** Closes free connections unused for a whole idle timeout (at least 4 sweeps of a quarter of it). */
  private readonly onSweep = (): void => {
    this.ticks++;
    const free = this.free;
    // The oldest are first (LIFO reuse takes from the end).
    while (free.length > 0 && this.ticks - free[0].freeTick > 4) {
      const c = free.shift()!;
      this.idleTimedOut();
      c.destroy();
    }
    if (this.open === 0) this.stopSweep();
    else if (this.host.idleTimeoutMs() !== this.sweepMs) {
      // The cluster's idle timeout changed (a push): sweep at the new pace.
      this.stopSweep();
      this.startSweep();
    }
  };

  private startSweep(): void {
    const idle = this.host.idleTimeoutMs();
    if (!(idle > 0) || this.sweep !== undefined) return;
    this.sweepMs = idle;
    this.sweep = setInterval(this.onSweep, Math.max(1, Math.floor(idle / 4))).unref();
  }

  private stopSweep(): void {
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
  }

  release(c: H1Conn): void {
    if (this.released) {
      c.destroy();
      return;
    }
    const q = this.queue.shift();
    if (q) c.assign(q.ex, q.head);
    else {
      c.freeTick = this.ticks;
      this.free.push(c);
    }
  }

  idleTimedOut(): void {
    this.host.onIdleTimeout();
  }

  closed(c: H1Conn): void {
    this.open--;
    const i = this.free.lastIndexOf(c);
    if (i >= 0) this.free.splice(i, 1);
    // A queued exchange takes the slot this connection leaves.
    const q = this.queue.length > 0 && this.host.canOpen() ? this.queue.shift() : undefined;
    if (q) this.newConn().assign(q.ex, q.head);
    else if (this.open === 0) this.stopSweep();
  }

  /** Closes idle connections; busy ones close after their response (the endpoint left its cluster). */
  close(): void {
    this.released = true;
    for (const c of this.free.splice(0)) c.destroy();
  }
}
