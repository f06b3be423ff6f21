// Seed 003 section 4.12 (fast timeouts) with real processes: ratings delayed 30 s for jason
// (003-20), reviews with a 1 s timeout for jason (003-19). productpage answers within about 2 s (it
// retries reviews once, as Istio's productpage does), showing reviews as unavailable instead of hanging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { BOOKINFO, SEEDS, pollUntil, send } from '../e2e/helpers.js';
import { clusterStat, outbound } from './helpers.js';

let mesh: TestMesh | undefined;
let client: RunningWorkload;

before(async () => {
  mesh = await TestMesh.start();
  await mesh.applyFile(join(BOOKINFO, 'platform', 'services.yaml'));
  await mesh.applyFile(join(BOOKINFO, 'networking', 'destination-rule-all.yaml'));
  await mesh.applyFile(join(SEEDS, '003-20-ratings-delay-jason.yaml'));
  await mesh.applyFile(join(SEEDS, '003-19-reviews-timeout.yaml'));
  await Promise.all([
    mesh.runSample('details', 'v1', 'bookinfo/details.js', 9080),
    mesh.runSample('ratings', 'v1', 'bookinfo/ratings.js', 9080),
    mesh.runSample('reviews', 'v2', 'bookinfo/reviews.js', 9080, ['--version', 'v2']),
    mesh.runSample('reviews', 'v3', 'bookinfo/reviews.js', 9080, ['--version', 'v3']),
    mesh.runSample('productpage', 'v1', 'bookinfo/productpage.js', 9080),
    mesh.runClient('sleep').then((c) => { client = c; }),
  ]);
});

after(async () => { await mesh?.stop(); });

test('4.12: ratings delayed 30 s for jason, reviews timeout 1 s: productpage answers in ~2 s with reviews unavailable', async (t) => {
  const addr = (await client.workload()).address;
  const page = (cookie?: string) => send({ host: addr, port: 15001, path: 'http://productpage:9080/productpage', headers: cookie ? { cookie } : {} }, undefined, 20_000);
  await pollUntil('productpage with reviews for anonymous users', async () => {
    const r = await page();
    return r.status === 200 && r.body.includes('Book Reviews') && !r.body.includes('currently unavailable');
  }, 20_000);
  const t0 = performance.now();
  const j = await page('user=jason');
  const took = performance.now() - t0;
  t.diagnostic(`jason's page in ${Math.round(took)} ms`);
  assert.equal(j.status, 200);
  assert.match(j.body, /Sorry, product reviews are currently unavailable for this book\./);
  assert.ok(j.body.includes('Book Details'), 'details still shown');
  assert.ok(took >= 1800 && took < 3500, `took ${Math.round(took)} ms (two 1 s reviews attempts)`);
  const pp = mesh!.weftd.workloads.list().find((w) => w.name.startsWith('productpage'));
  assert.ok(pp);
  assert.ok(await clusterStat(pp.address, outbound('reviews', 9080, 'default', 'v3'), 'upstream_rq_timeout') >= 2);
  // Anyone else is not delayed.
  const t1 = performance.now();
  const anon = await page();
  assert.equal(anon.status, 200);
  assert.ok(!anon.body.includes('currently unavailable'));
  assert.ok(performance.now() - t1 < 1500);
});
