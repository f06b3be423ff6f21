// mesh-http: absolute-form requests to the proxy named by HTTP_PROXY, direct otherwise.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeMeshConnections, meshRequest, MeshHttpError } from '../../samples/lib/mesh-http.js';
import { fakeServer, get, startSample } from './processes.js';

void after(() => closeMeshConnections());

void describe('mesh-http', () => {
  void it('sends absolute-form requests with the target Host to the proxy and reuses the connection', async () => {
    const sockets = new Set<unknown>();
    const proxy = await fakeServer((req, res) => {
      sockets.add(req.socket);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ via: 'proxy' }));
    });
    try {
      const env = { HTTP_PROXY: proxy.url };
      const r = await meshRequest('http://reviews:9080/reviews/0?x=1', { env, headers: { 'end-user': 'jason' } });
      assert.deepEqual(r.json(), { via: 'proxy' });
      await meshRequest('http://reviews:9080/reviews/1', { env });
      assert.equal(proxy.requests[0].url, 'http://reviews:9080/reviews/0?x=1');
      assert.equal(proxy.requests[0].headers.host, 'reviews:9080');
      assert.equal(proxy.requests[0].headers['end-user'], 'jason');
      assert.equal(proxy.requests[1].url, 'http://reviews:9080/reviews/1');
      assert.equal(sockets.size, 1, 'keep-alive connection reused');
    } finally {
      await proxy.close();
    }
  });

  void it('goes direct when the host is in NO_PROXY or no proxy is set', async () => {
    const target = await fakeServer((_req, res) => res.end('direct'));
    try {
      const viaNoProxy = await meshRequest(`${target.url}/a`, { env: { http_proxy: 'http://127.0.0.1:1', NO_PROXY: 'localhost,127.0.0.1' } });
      assert.equal(viaNoProxy.text(), 'direct');
      const plain = await meshRequest(`${target.url}/b`, { env: {} });
      assert.equal(plain.text(), 'direct');
      assert.deepEqual(target.requests.map((r) => r.url), ['/a', '/b']);
    } finally {
      await target.close();
    }
  });

  void it('retries a GET once when a reused keep-alive connection was closed by the peer', async () => {
    const perSocket = new Map<unknown, number>();
    const server = await fakeServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n === 2) {
        req.socket.destroy();
        return;
      }
      res.end(`ok ${perSocket.size}`);
    });
    try {
      assert.equal((await meshRequest(`${server.url}/1`, { env: {} })).text(), 'ok 1');
      assert.equal((await meshRequest(`${server.url}/2`, { env: {} })).text(), 'ok 2');
      assert.equal(server.requests.length, 3);
      await assert.rejects(meshRequest(`${server.url}/3`, { env: {}, method: 'POST', body: 'x' }), MeshHttpError);
    } finally {
      await server.close();
    }
  });

  void it('times out with a MeshHttpError of kind timeout', async () => {
    const hanging = await fakeServer(() => undefined);
    try {
      const t0 = Date.now();
      await assert.rejects(meshRequest(`${hanging.url}/`, { env: {}, timeoutMs: 200 }), (e: unknown) => e instanceof MeshHttpError && e.kind === 'timeout');
      assert.ok(Date.now() - t0 < 1500);
    } finally {
      await hanging.close();
    }
  });

  void it('reviews v2 running with HTTP_PROXY calls ratings through the proxy', async () => {
    const proxy = await fakeServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 0, ratings: { Reviewer1: 2, Reviewer2: 1 } }));
    });
    const reviews = await startSample('bookinfo/reviews.js', { HTTP_PROXY: proxy.url, NO_PROXY: '' }, ['--version', 'v2']);
    try {
      const r = await get(`${reviews.url}/reviews/0`, { 'end-user': 'jason', 'x-request-id': 'r1' });
      assert.equal(JSON.parse(r.text).reviews[0].rating.stars, 2);
      assert.equal(proxy.requests[0].url, 'http://ratings:9080/ratings/0');
      assert.equal(proxy.requests[0].headers.host, 'ratings:9080');
      assert.equal(proxy.requests[0].headers['end-user'], 'jason');
      assert.equal(proxy.requests[0].headers['x-request-id'], 'r1');
    } finally {
      await reviews.stop();
      await proxy.close();
    }
  });
});
