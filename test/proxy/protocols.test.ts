// Keep-alive, streaming with backpressure, 100-continue, WebSocket through two proxies, h2c.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Proxy } from '../../src/proxy/index.js';
import { cla, close, echoServer, edsCluster, hcm, listen, listener, map, mustUpdate, outboundListeners, request, routeTo, startProxy, staticCluster, waitFor } from './helpers.js';

const A = '127.0.10.3';
const B = '127.0.10.4';

void describe('proxy protocols', () => {
  let a: Proxy;
  let b: Proxy;
  let bPort = 0;
  const servers: net.Server[] = [];
  let paused: http.IncomingMessage[] = [];

  before(async () => {
    const echo = await echoServer('echo');
    servers.push(echo.server);
    // A slow consumer (pauses request bodies until told) and a large streaming producer.
    const stream = http.createServer((req, res) => {
      if (req.url === '/pause') {
        paused.push(req);
        req.pause();
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (c: Buffer) => {
          h.update(c);
          n += c.length;
        });
        req.on('end', () => res.end(JSON.stringify({ n, sha: h.digest('hex') })));
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let left = 20 * 16; // 20 MiB
        const pump = (): void => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.url === '/bigseq') {
        // 20 MiB whose every 64 KiB piece holds its own index: a byte delivered from the wrong read shows.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let k = 0;
        const pump = (): void => {
          while (k < 20 * 16) {
            if (!res.write(Buffer.alloc(64 * 1024, k++ & 0xff))) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.url === '/continue') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => res.end(`got ${body}`));
        return;
      }
      res.end('?');
    });
    stream.on('checkContinue', (req, res) => {
      res.writeContinue();
      stream.emit('request', req, res);
    });
    const streamPort = await listen(stream);
    servers.push(stream);
    // WebSocket-ish upstream: completes the handshake, then echoes bytes.
    const ws = http.createServer((_req, res) => res.end('no upgrade'));
    ws.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      socket.pipe(socket);
    });
    const wsPort = await listen(ws);
    servers.push(ws);
    // An h2c upstream.
    const h2 = http2.createServer();
    h2.on('stream', (st, headers) => {
      st.respond({ ':status': 200, 'x-proto': 'h2', 'x-path': String(headers[':path']) }, { waitForTrailers: true });
      st.on('wantTrailers', () => st.sendTrailers({ 'x-trailer': 'done' }));
      st.end('h2 says hi');
    });
    const h2Port = await listen(h2);
    servers.push(h2);

    // Proxy B: inbound listener to the ws upstream and the echo server.
    b = await startProxy(B);
    mustUpdate(b, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', wsPort]])]));
    const rcB = { name: 'inbound|80||', virtual_hosts: [{ name: 'inbound', domains: ['*'], routes: [routeTo('inbound|80||')] }] };
    mustUpdate(b, 'listener', map([listener(`${B}_80`, B, 0, hcm('inbound_0.0.0.0_80', { inline: rcB }))]));
    await b.settled();
    bPort = b.listenerPort(`${B}_80`)!;

    a = await startProxy(A);
    mustUpdate(a, 'cluster', map([edsCluster('echo'), edsCluster('stream'), edsCluster('ws'), edsCluster('h2', { http2_protocol_options: {} }),
      edsCluster('h2typed', { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } })]));
    mustUpdate(a, 'endpoint', map([cla('echo', [['127.0.0.1', echo.port]]), cla('stream', [['127.0.0.1', streamPort]]), cla('ws', [[B, bPort]]), cla('h2', [['127.0.0.1', h2Port]]), cla('h2typed', [['127.0.0.1', h2Port]])], 'cluster_name'));
    mustUpdate(a, 'listener', outboundListeners(A, [80, 9000]));
    mustUpdate(a, 'route', map([
      { name: '80', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [routeTo('stream', { prefix: '/pause' }), routeTo('stream', { prefix: '/big' }), routeTo('stream', { prefix: '/continue' }), routeTo('ws', { prefix: '/ws' }), routeTo('h2', { prefix: '/h2' }), routeTo('h2typed', { prefix: '/typed' }), routeTo('echo')] }] },
      { name: '9000', virtual_hosts: [{ name: 'echo', domains: ['*'], routes: [routeTo('echo')] }] },
    ]));
  });

  after(async () => {
    await a.close();
    await b.close();
    for (const s of servers) await close(s);
  });

  void it('reuses upstream keep-alive connections', async () => {
    const before = a.stats()['cluster.echo.upstream_cx_total'] ?? 0;
    for (let i = 0; i < 20; i++) assert.equal((await request({ host: A, port: 15001, path: 'http://svc/k' })).status, 200);
    assert.equal(a.stats()['cluster.echo.upstream_cx_total'] - before, 1);
  });

  void it('removes hop-by-hop headers and those named in Connection', async () => {
    const r = await request({ host: A, port: 15001, path: 'http://svc:9000/h', headers: { connection: 'x-secret', 'x-secret': 's', 'proxy-connection': 'keep-alive', 'x-kept': 'k' } });
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-secret'], undefined);
    assert.equal(h['proxy-connection'], undefined);
    assert.equal(h['x-kept'], 'k');
    assert.equal(h.host, 'svc:9000');
  });

  void it('streams a chunked upload with backpressure (bounded buffering) and delivers every byte', async () => {
    paused = [];
    const req = http.request({ host: A, port: 15001, path: 'http://svc/pause', method: 'POST', agent: false });
    const done = new Promise<string>((resolve, reject) => {
      req.on('response', (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
    });
    const chunk = Buffer.alloc(64 * 1024, 1);
    const h = createHash('sha256');
    let written = 0;
    // Write until the pipe stays full: everything buffered along the way must stay bounded.
    for (;;) {
      h.update(chunk);
      written += chunk.length;
      if (!req.write(chunk)) {
        const drained = await Promise.race([new Promise((r) => req.once('drain', () => r(true))), new Promise((r) => setTimeout(() => r(false), 300))]);
        if (!drained) break;
      }
      if (written > 256 * 1024 * 1024) break;
    }
    assert.ok(written < 64 * 1024 * 1024, `upload was not backpressured: ${written} bytes accepted while upstream paused`);
    await waitFor(() => paused.length === 1, 'upstream request');
    paused[0].resume();
    req.end();
    const got = JSON.parse(await done) as { n: number; sha: string };
    assert.equal(got.n, written);
    assert.equal(got.sha, h.digest('hex'));
  });

  void it('streams a 20 MiB download', async () => {
    const n = await new Promise<number>((resolve, reject) => {
      http.get({ host: A, port: 15001, path: 'http://svc/big', agent: false }, (res) => {
        let total = 0;
        res.on('data', (c: Buffer) => (total += c.length));
        res.on('end', () => resolve(total));
      }).on('error', reject);
    });
    assert.equal(n, 20 * 1024 * 1024);
  });

  void it('a 20 MiB download to a reader that pauses arrives whole (origin-form: the lean path; upstream reads paused and resumed)', async () => {
    const got = await new Promise<{ total: number; bad: number }>((resolve, reject) => {
      http.get({ host: A, port: 15001, path: '/bigseq', headers: { host: 'svc' }, agent: false }, (res) => {
        let total = 0;
        let bad = 0;
        let pauses = 0;
        res.on('data', (c: Buffer) => {
          for (let i = 0; i < c.length; i++) if (c[i] !== (((total + i) >> 16) & 0xff)) bad++;
          total += c.length;
          // Stop reading a few times, long enough for the proxies' buffers to fill.
          if (pauses < 3 && total > (pauses + 1) * 4 * 1024 * 1024) {
            pauses++;
            res.pause();
            setTimeout(() => res.resume(), 150);
          }
        });
        res.on('end', () => resolve({ total, bad }));
      }).on('error', reject);
    });
    assert.deepEqual(got, { total: 20 * 1024 * 1024, bad: 0 });
  });

  void it('handles Expect: 100-continue', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: A, port: 15001, path: 'http://svc/continue', method: 'POST', headers: { expect: '100-continue', 'content-length': 5 }, agent: false });
      req.on('continue', () => req.end('hello'));
      req.on('response', (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
    });
    assert.equal(body, 'got hello');
  });

  void it('tunnels a WebSocket upgrade through two proxies', async () => {
    const sock = net.connect(15001, A);
    sock.write('GET http://svc/ws HTTP/1.1\r\nHost: svc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
    await waitFor(() => got.includes('\r\n\r\n'), 'upgrade response');
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.match(got, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    got = '';
    sock.write('ping-1');
    await waitFor(() => got === 'ping-1', 'echo');
    sock.write('ping-2');
    await waitFor(() => got === 'ping-1ping-2', 'second echo');
    sock.destroy();
  });

  void it('forwards to h2c upstreams (http2_protocol_options and HttpProtocolOptions) with trailers', async () => {
    for (const path of ['/h2/x', '/typed/y']) {
      const r = await new Promise<{ headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
        http.get({ host: A, port: 15001, path: `http://svc${path}`, headers: { te: 'trailers' } }, (res) => {
          let s = '';
          res.on('data', (c: Buffer) => (s += c.toString()));
          res.on('end', () => resolve({ headers: res.headers, body: s, trailers: res.trailers }));
        }).on('error', reject);
      });
      assert.equal(r.headers['x-proto'], 'h2');
      assert.equal(r.headers['x-path'], path);
      assert.equal(r.body, 'h2 says hi');
      assert.equal(r.trailers['x-trailer'], 'done');
    }
  });

  void it('accepts h2c prior-knowledge clients', async () => {
    const session = http2.connect(`http://${A}:15001`);
    session.on('error', () => {});
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const st = session.request({ ':path': '/over-h2', ':authority': 'svc:9000' });
      let status = 0;
      let s = '';
      st.on('response', (h) => (status = Number(h[':status'])));
      st.on('data', (c: Buffer) => (s += c.toString()));
      st.on('end', () => resolve({ status, body: s }));
      st.on('error', reject);
    });
    session.close();
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/over-h2');
    assert.equal(echoed.headers.host, 'svc:9000');
  });
});
