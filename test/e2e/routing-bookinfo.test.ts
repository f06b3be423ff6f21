// Seed 003 (request routing by user identity) with real processes: Bookinfo behind the ingress
// gateway, the seed's own VirtualService `reviews` (end-user: jason -> v2, everyone else -> v1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestMesh, freePort, type RunningWorkload } from '../helpers/mesh.js';
import { BOOKINFO, SEEDS, pollUntil, send } from './helpers.js';

let mesh: TestMesh | undefined;
let gwPort = 0;
let client: RunningWorkload;

const countStars = (html: string): number => (html.match(/glyphicon-star"/g) ?? []).length;
const starColor = (html: string): string => (countStars(html) === 0 ? 'none' : /<font color="red">/.test(html) ? 'red' : 'black');

before(async () => {
  gwPort = await freePort();
  mesh = await TestMesh.start({ mesh: { gatewayPortMap: { 80: gwPort } } });
  await mesh.applyFile(join(BOOKINFO, 'platform', 'services.yaml'));
  await mesh.applyFile(join(BOOKINFO, 'networking', 'destination-rule-all.yaml'));
  await mesh.applyFile(join(BOOKINFO, 'networking', 'bookinfo-gateway.yaml'));
  await mesh.applyFile(join(SEEDS, '003-01-reviews-jason.yaml'));
  await Promise.all([
    mesh.startGateway(),
    mesh.runSample('details', 'v1', 'bookinfo/details.js', 9080),
    mesh.runSample('ratings', 'v1', 'bookinfo/ratings.js', 9080),
    mesh.runSample('reviews', 'v1', 'bookinfo/reviews.js', 9080, ['--version', 'v1']),
    mesh.runSample('reviews', 'v2', 'bookinfo/reviews.js', 9080, ['--version', 'v2']),
    mesh.runSample('productpage', 'v1', 'bookinfo/productpage.js', 9080),
    mesh.runClient('sleep').then((c) => { client = c; }),
  ]);
});

after(async () => { await mesh?.stop(); });

test('through a client sidecar: end-user: jason gets reviews v2, anyone else v1 (seed 003-01)', async () => {
  const addr = (await client.workload()).address;
  const reviews = (user?: string) => send({ host: addr, port: 15001, path: 'http://reviews:9080/reviews/0', headers: user ? { 'end-user': user } : {} });
  // Endpoints arrive asynchronously after the workloads turn ready: wait for the first good answer.
  await pollUntil('reviews reachable', async () => (await reviews()).status === 200, 10_000);
  for (let i = 0; i < 10; i++) {
    const j = await reviews('jason');
    assert.equal(j.status, 200, j.body);
    assert.equal(JSON.parse(j.body).reviews[0].rating?.color, 'black', `jason: ${j.body}`);
    for (const other of [undefined, 'Jason', 'alice']) {
      const o = await reviews(other);
      assert.equal(o.status, 200, o.body);
      assert.equal(JSON.parse(o.body).reviews[0].rating, undefined, `${other ?? 'no user'}: ${o.body}`);
    }
  }
});

test('through the ingress gateway and productpage: logged in as jason shows black stars, logged out none', async () => {
  const page = (cookie?: string) => send({ host: '127.0.0.1', port: gwPort, path: '/productpage', headers: cookie ? { cookie } : {} });
  await pollUntil('productpage through the gateway', async () => {
    const r = await page();
    return r.status === 200 && r.body.includes('Book Details') && !r.body.includes('currently unavailable');
  }, 15_000);
  const login = await send({
    host: '127.0.0.1', port: gwPort, path: '/login', method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=jason',
  });
  assert.equal(login.status, 302, login.body);
  const cookie = String(login.headers['set-cookie']).split(';')[0];
  assert.equal(cookie, 'user=jason');
  for (let i = 0; i < 6; i++) {
    const j = await page(cookie);
    assert.equal(j.status, 200);
    assert.equal(starColor(j.body), 'black', 'jason sees reviews v2');
    const anon = await page();
    assert.equal(anon.status, 200);
    assert.equal(starColor(anon.body), 'none', 'anonymous sees reviews v1');
    assert.ok(anon.body.includes('Book Reviews'), anon.body.slice(0, 500));
  }
});
