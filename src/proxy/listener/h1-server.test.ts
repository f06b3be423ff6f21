import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LeanH1Conn, type LeanHost, parseHead } from './h1-server.js';
import type { LeanRequest, LeanResponse } from './h1-message.js';

type Req = LeanRequest | http.IncomingMessage;
type Res = LeanResponse | http.ServerResponse;

/** Echoes what it got as JSON, saying which path (lean or node) served it. */
function answer(via: string, req: Req, res: Res): void {
  if (req.url === '/late') {
    // Reads the body only after a while (as after an async filter), then says how much came.
    setTimeout(() => {
      let n = 0;
      req.on('data', (c: Buffer) => { n += c.length; });
      req.on('end', () => (res as LeanResponse).writeHead(200, { 'content-length': String(String(n).length) }).end(String(n)));
    }, 100);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({ via, method: req.method, url: req.url, host: req.headers.host, body: Buffer.concat(chunks).toString() });
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/json' });
      (res as LeanResponse).write(body);
      (res as LeanResponse).end();
    } else if (req.url === '/nocontent') {
      res.writeHead(204, {});
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      (res as LeanResponse).end(body);
    }
  });
}

let server: net.Server;
let port = 0;
const node = http.createServer({ maxHeaderSize: 1024 }, (req, res) => answer('node', req, res));
const host: LeanHost = {
  maxHeaderSize: 1024,
  onRequest: (req, res) => answer('lean', req, res),
  fallback: (sock) => node.emit('connection', sock),
  detach: () => {},
};

/** Writes `parts` (one write each, a tick apart) and reads until the peer closes or `responses` complete. */
async function exchange(parts: (string | Buffer)[], responses = 0): Promise<string> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let got = '';
  const done = new Promise<string>((resolve) => {
    const check = (): void => {
      if (responses > 0 && countResponses(got) >= responses) {
        sock.destroy();
        resolve(got);
      }
    };
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      check();
    });
    sock.on('close', () => resolve(got));
    sock.on('error', () => resolve(got));
  });
  for (const p of parts) {
    sock.write(p);
    await new Promise((r) => setImmediate(r));
  }
  return done;
}

/** Complete responses in `s` (Content-Length or chunked framing; 204 has no body). */
function countResponses(s: string): number {
  let n = 0;
  let pos = 0;
  for (;;) {
    const end = s.indexOf('\r\n\r\n', pos);
    if (end < 0) return n;
    const head = s.slice(pos, end);
    const cl = /content-length: (\d+)/i.exec(head);
    let next = end + 4;
    if (/^HTTP\/1\.1 204/.test(head)) next = end + 4;
    else if (cl) next += Number(cl[1]);
    else if (/transfer-encoding: chunked/i.test(head)) {
      const z = s.indexOf('\r\n0\r\n\r\n', end);
      if (z < 0) return n;
      next = z + 7;
    }
    if (next > s.length) return n;
    n++;
    pos = next;
  }
}

function bodies(s: string): Array<{ via: string; method: string; url: string; body: string }> {
  return [...s.matchAll(/\{"via".*?\}(?=HTTP|$|\r)/gs)].map((m) => JSON.parse(m[0].replace(/\r\n[0-9a-f]+\r\n/g, '')) as { via: string; method: string; url: string; body: string });
}

describe('lean HTTP/1.1 server path', () => {
  before(async () => {
    server = net.createServer((sock) => new LeanH1Conn(sock, host));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server.close());

  const post = 'POST /upload?x=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 11\r\nX-Thing:  spaced  \r\n\r\nhello world';

  it('parses a request split at every byte position', async () => {
    for (let i = 1; i < post.length; i++) {
      const got = await exchange([post.slice(0, i), post.slice(i)], 1);
      const [b] = bodies(got);
      assert.deepEqual(b, { via: 'lean', method: 'POST', url: '/upload?x=1', host: 'a.example', body: 'hello world' }, `split at ${i}`);
    }
  });

  it('parses a request sent one byte at a time', async () => {
    const got = await exchange([...post].map((c) => c), 1);
    assert.equal(bodies(got)[0].body, 'hello world');
  });

  it('answers pipelined requests in order on one connection', async () => {
    const get = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: h\r\n\r\n`;
    const got = await exchange([get('/1') + post + get('/chunked') + 'HEAD /4 HTTP/1.1\r\nHost: h\r\n\r\n' + get('/nocontent') + get('/6')], 6);
    const b = bodies(got);
    assert.deepEqual(b.map((x) => x.url), ['/1', '/upload?x=1', '/chunked', '/6']);
    assert.ok(b.every((x) => x.via === 'lean'));
    assert.match(got, /transfer-encoding: chunked/);
    assert.match(got, /HTTP\/1\.1 204 No Content\r\n(?:(?!content-length|transfer-encoding)[^\r]*\r\n)*\r\n/i);
    assert.equal(countResponses(got), 6);
  });

  it('holds a large body until the request is read, then delivers every byte and serves the next request', async () => {
    const size = 3 * 1024 * 1024;
    const got = await exchange([`POST /late HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`, Buffer.alloc(size, 97), 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n'], 2);
    assert.match(got, new RegExp(`\r\n\r\n${size}HTTP/1\\.1 200`));
    assert.equal(bodies(got)[0].url, '/next');
  });

  it('closes after Connection: close', async () => {
    const got = await exchange(['GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']);
    assert.match(got, /connection: close/i);
    assert.equal(bodies(got)[0].via, 'lean');
  });

  it('hands unusual requests to node:http, even after lean ones on the same connection', async () => {
    const chunked = 'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
    const got = await exchange(['GET /first HTTP/1.1\r\nHost: h\r\n\r\n' + chunked + 'GET /after HTTP/1.1\r\nHost: h\r\n\r\n'], 3);
    assert.deepEqual(bodies(got).map((b) => `${b.via} ${b.url} ${b.body}`), ['lean /first ', 'node /c hello', 'node /after ']);
    for (const unusual of [
      'GET /h10 HTTP/1.0\r\nHost: h\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n',
      'GET /dup HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\n\r\n',
      'GET /latin1 HTTP/1.1\r\nHost: h\r\nX: caf\xe9\r\n\r\n',
      'GET http://h/abs HTTP/1.1\r\nHost: h\r\n\r\n',
    ]) {
      const r = await exchange([Buffer.from(unusual, 'latin1')], 1);
      assert.match(r, /HTTP\/1\.1 200/, unusual);
      assert.equal(bodies(r)[0].via, 'node', unusual);
    }
  });

  it('refuses bad framing and smuggling shapes exactly as node:http does (400, nothing served)', async () => {
    for (const bad of [
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\nX-Bad: a\x01b\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\nX-Space : a\r\n\r\n',
      'GET / HTTP/1.1\nHost: h\n\n',
      'GET / HTTP/1.1\r\nHost: h\r\nX: a\rb: c\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n',
    ]) {
      const r = await exchange([Buffer.from(bad, 'latin1')]);
      assert.match(r, /^HTTP\/1\.1 400 /, JSON.stringify(bad));
      assert.doesNotMatch(r, /"via"/, JSON.stringify(bad));
    }
  });

  it('a bad request pipelined behind a good one: the good one is answered first', async () => {
    const r = await exchange(['GET /good HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n']);
    assert.equal(bodies(r)[0].url, '/good');
    assert.match(r, /\}HTTP\/1\.1 400 /);
  });

  it('hands binary noise to node:http at once (400), without waiting for a blank line', async () => {
    assert.match(await exchange([Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256))]), /^HTTP\/1\.1 400 /);
    assert.match(await exchange(['GET / HTTP/1.1\r\nHost: h\r\n\x00']), /^HTTP\/1\.1 400 /);
  });

  it('sends heads over the size limit to node:http (431)', async () => {
    const big = `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`;
    assert.match(await exchange([big]), /^HTTP\/1\.1 431 /);
    // Never terminated: node:http decides once the limit is passed.
    assert.match(await exchange([`GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(2000)}`]), /^HTTP\/1\.1 431 /);
  });

  it('parseHead: the plain case and what it leaves to node:http', () => {
    const h = parseHead('GET /p?q HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n');
    assert.deepEqual(h && { ...h }, { method: 'GET', url: '/p?q', headers: { host: 'x', 'content-length': '3', connection: 'close' }, raw: ['Host', 'x', 'Content-Length', '3', 'Connection', 'close'], contentLength: 3, close: true });
    for (const s of ['CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n', 'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n', 'GET / HTTP/1.1\r\nHost: h\r\n__proto__: x\r\n\r\n', 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456\r\n\r\n']) {
      assert.equal(parseHead(s), null, s);
    }
  });
});
