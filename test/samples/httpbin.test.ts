// httpbin and helloworld samples as real processes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { get, startSample, type SampleProcess } from './processes.js';

let bin: SampleProcess;
void before(async () => {
  bin = await startSample('httpbin/httpbin.js');
});
void after(async () => {
  await bin.stop();
});

void describe('httpbin', () => {
  void it('/get and /headers report Title-Case headers including X-Forwarded-Client-Cert', async () => {
    const xfcc = 'By=spiffe://cluster.local/ns/default/sa/httpbin;URI=spiffe://cluster.local/ns/default/sa/sleep';
    const r = await get(`${bin.url}/get?a=1&b=2&b=3`, { 'x-forwarded-client-cert': xfcc, 'x-b3-parentspanid': 'p1', 'user-agent': 'curl/8' });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    assert.deepEqual(body.args, { a: '1', b: ['2', '3'] });
    assert.equal(body.headers['X-Forwarded-Client-Cert'], xfcc);
    assert.equal(body.headers['X-B3-Parentspanid'], 'p1');
    assert.equal(body.headers['User-Agent'], 'curl/8');
    assert.equal(body.headers.Host, `127.0.0.1:${bin.port}`);
    assert.equal(body.url, `http://127.0.0.1:${bin.port}/get?a=1&b=2&b=3`);
    assert.equal(body.origin, '127.0.0.1');
    const h = JSON.parse((await get(`${bin.url}/headers`, { 'end-user': 'jason' })).text);
    assert.equal(h.headers['End-User'], 'jason');
    assert.deepEqual(JSON.parse((await get(`${bin.url}/ip`, { 'x-forwarded-for': '10.0.0.1' })).text), { origin: '10.0.0.1' });
  });

  void it('/status answers the code, and picks among a list', async () => {
    assert.equal((await get(`${bin.url}/status/503`)).status, 503);
    assert.equal((await get(`${bin.url}/status/418`)).status, 418);
    assert.equal((await get(`${bin.url}/status/abc`)).status, 400);
    const seen = new Set<number>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add((await get(`${bin.url}/status/200,503`)).status);
    assert.deepEqual([...seen].sort(), [200, 503]);
    const post = await fetch(`${bin.url}/status/201`, { method: 'POST' });
    assert.equal(post.status, 201);
  });

  void it('/delay waits, /anything and /post echo the request', async () => {
    const t0 = Date.now();
    assert.equal((await get(`${bin.url}/delay/0.3`)).status, 200);
    assert.ok(Date.now() - t0 >= 280);
    const any = await fetch(`${bin.url}/anything/x?q=1`, { method: 'PUT', body: '{"k":1}', headers: { 'content-type': 'application/json' } });
    const a = (await any.json()) as Record<string, unknown>;
    assert.equal(a.method, 'PUT');
    assert.deepEqual(a.json, { k: 1 });
    assert.equal(a.data, '{"k":1}');
    const post = await fetch(`${bin.url}/post`, { method: 'POST', body: 'x=1&y=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(((await post.json()) as { form: unknown }).form, { x: '1', y: '2' });
    assert.equal((await get(`${bin.url}/post`)).status, 405);
  });

  void it('/response-headers, /uuid, /stream, /bytes', async () => {
    const rh = await get(`${bin.url}/response-headers?X-Custom=hello`);
    assert.equal(rh.headers.get('x-custom'), 'hello');
    assert.equal(JSON.parse(rh.text)['X-Custom'], 'hello');
    assert.match(JSON.parse((await get(`${bin.url}/uuid`)).text).uuid, /^[0-9a-f-]{36}$/);
    const lines = (await get(`${bin.url}/stream/3`)).text.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    assert.deepEqual(lines.map((l) => l.id), [0, 1, 2]);
    const bytes = await fetch(`${bin.url}/bytes/1000`);
    assert.equal((await bytes.arrayBuffer()).byteLength, 1000);
    assert.equal((await get(`${bin.url}/nope`)).status, 404);
  });
});

void describe('helloworld', () => {
  void it('answers with its version and instance', async () => {
    const hw = await startSample('helloworld/helloworld.js', { SERVICE_VERSION: 'v2', HOSTNAME: 'helloworld-v2-abc' });
    try {
      assert.equal((await get(`${hw.url}/hello`)).text, 'Hello version: v2, instance: helloworld-v2-abc\n');
    } finally {
      assert.equal(await hw.stop(), 0);
    }
  });
});
