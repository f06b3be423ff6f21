// The HTTP/1.1 upstream pool and parser against raw TCP servers that answer byte by byte as told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { type H1Conn, type H1Exchange, H1Pool, pooledOnRead, requestHead } from './h1.js';

interface Result { status: number; headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders | null; reused: boolean; error?: string }

/** A server that answers each request (one per connection at a time) with the pieces `answer` returns, written separately. */
async function rawServer(answer: (n: number) => string[]): Promise<{ port: number; requests: string[]; connections: () => number; close(): Promise<void> }> {
  const requests: string[] = [];
  let n = 0;
  let conns = 0;
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    conns++;
    socks.add(s);
    s.on('close', () => socks.delete(s));
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      requests.push(buf.slice(0, end));
      buf = buf.slice(end + 4);
      const pieces = answer(n++);
      let i = 0;
      const next = (): void => {
        if (i >= pieces.length || s.destroyed) return;
        const p = pieces[i++];
        if (p === 'CLOSE') s.destroy();
        else s.write(p, 'latin1', () => setImmediate(next));
      };
      next();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port, requests, connections: () => conns,
    close: () => new Promise<void>((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }),
  };
}

/** `onread`: reads through pooledOnRead (plaintext endpoints), else 'data' events (TLS endpoints). */
function pool(port: number, onread = true): H1Pool {
  return new H1Pool({ connect: () => net.createConnection({ host: '127.0.0.1', port, ...(onread ? { onread: pooledOnRead() } : {}) }), canOpen: () => true, idleTimeoutMs: () => 4000, onIdleTimeout: () => {} });
}

function exchange(p: H1Pool, method = 'GET'): Promise<Result> {
  return new Promise((resolve) => {
    const r: Result = { status: 0, headers: {}, body: '', trailers: null, reused: false };
    const ex: H1Exchange = {
      h1Assigned(conn: H1Conn, reused: boolean) {
        r.reused = reused;
        conn.write(requestHead(method, '/x', { host: 'h' }, false, false).head);
        conn.endRequest();
      },
      h1Head(status, headers) { r.status = status; r.headers = headers; },
      h1Body(c) { r.body += c.toString(); return true; },
      h1Complete(last, trailers) { if (last) r.body += last.toString(); r.trailers = trailers; resolve(r); },
      h1Error(err, reused) { r.error = (err as NodeJS.ErrnoException).code ?? err.message; r.reused = reused; resolve(r); },
    };
    p.request(ex, method === 'HEAD', false);
  });
}

for (const onread of [true, false]) void test(`content-length, chunked with trailers and until-close bodies, split anywhere; 1xx skipped; keep-alive reuse (${onread ? 'onread' : 'data events'})`, async () => {
  const answers = [
    ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le', 'ngth: 5\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nhel', 'lo'],
    ['HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r', '\nabc\r\n', '2;ext=1\r\nde\r\n0\r\nGrpc-Status: 0\r\n', '\r\n'],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil', '-close', 'CLOSE'],
  ];
  const srv = await rawServer((n) => answers[n]);
  const p = pool(srv.port, onread);
  try {
    const a = await exchange(p);
    assert.deepEqual([a.status, a.body, a.headers['set-cookie'], a.reused], [200, 'hello', ['a=1', 'b=2'], false]);
    const b = await exchange(p);
    assert.deepEqual([b.status, b.body, b.trailers, b.reused], [201, 'abcde', { 'grpc-status': '0' }, true]);
    const c = await exchange(p);
    assert.deepEqual([c.status, c.body, c.reused, c.error], [200, 'until-close', true, undefined]);
    assert.equal(srv.connections(), 1);
    assert.match(srv.requests[0], /^GET \/x HTTP\/1\.1\r\nhost: h\r\nconnection: keep-alive$/);
  } finally {
    p.close();
    await srv.close();
  }
});

void test('refused framing (repeated Content-Length, CL with TE, bad status line) and a reset before the response are errors', async () => {
  const answers = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n'],
    ['HTTP/2 200\r\n\r\n'],
    ['CLOSE'],
  ];
  const srv = await rawServer((n) => answers[n]);
  const p = pool(srv.port);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await exchange(p)).error, 'HPE_INVALID_RESPONSE', `answer ${i}`);
    const r = await exchange(p);
    assert.deepEqual([r.error, r.reused], ['ECONNRESET', false]);
  } finally {
    p.close();
    await srv.close();
  }
});

void test('HEAD and 204 responses have no body even with a length; the connection is reused', async () => {
  const srv = await rawServer((n) => [n === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n' : 'HTTP/1.1 204 No Content\r\n\r\n']);
  const p = pool(srv.port);
  try {
    const a = await exchange(p, 'HEAD');
    const b = await exchange(p, 'DELETE');
    assert.deepEqual([a.status, a.body, b.status, b.body, b.reused, srv.connections()], [200, '', 204, '', true, 1]);
  } finally {
    p.close();
    await srv.close();
  }
});

void test('requestHead: Content-Length: 0 for a bodiless POST, chunked for a body without length, close on the last request; bad bytes throw', () => {
  assert.equal(requestHead('POST', '/', { host: 'h' }, false, false).head, 'POST / HTTP/1.1\r\nhost: h\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n');
  const c = requestHead('PUT', '/', { host: 'h', a: ['1', '2'] }, true, true);
  assert.deepEqual(c, { head: 'PUT / HTTP/1.1\r\nhost: h\r\na: 1\r\na: 2\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n', chunked: true });
  assert.throws(() => requestHead('GET', '/', { host: 'h', x: 'a\nb' }, false, false), { code: 'ERR_INVALID_CHAR' });
  assert.throws(() => requestHead('GET', '/a b', { host: 'h' }, false, false), { code: 'ERR_UNESCAPED_CHARACTERS' });
});

void test('idle timeout: a free connection is closed and counted once unused for the timeout; one in use is kept', async () => {
  const srv = await rawServer(() => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
  let idleClosed = 0;
  const p = new H1Pool({ connect: () => net.createConnection({ host: '127.0.0.1', port: srv.port }), canOpen: () => true, idleTimeoutMs: () => 200, onIdleTimeout: () => idleClosed++ });
  try {
    const a = await exchange(p);
    assert.equal(a.status, 200);
    assert.equal(p.idle, 1);
    const deadline = Date.now() + 5000;
    while (p.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([p.open, p.idle, idleClosed], [0, 0, 1]);
    // A new request opens a new connection (the sweep starts again with it).
    const b = await exchange(p);
    assert.deepEqual([b.status, b.reused, srv.connections()], [200, false, 2]);
  } finally {
    p.close();
    await srv.close();
  }
});

void test('requestHead refuses a path exactly where /[^\\u0021-\\u00ff]/ matches, for every UTF-16 code unit', () => {
  const re = /[^\u0021-\u00ff]/;
  for (let c = 0; c < 0x10000; c++) {
    const path = `/a${String.fromCharCode(c)}b`;
    let threw = false;
    try {
      requestHead('GET', path, { host: 'h' }, false, false);
    } catch (e) {
      threw = (e as { code?: string }).code === 'ERR_UNESCAPED_CHARACTERS';
    }
    assert.equal(threw, re.test(path), `char code ${c}`);
  }
});
