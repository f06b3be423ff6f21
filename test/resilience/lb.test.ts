// Load balancing (seed 003 section 4.8) and mirroring with real processes: ROUND_ROBIN 1:1:1, RANDOM
// uniform, LEAST_REQUEST avoiding a slow replica, consistent hash by header, mirror to a shadow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, send } from '../e2e/helpers.js';
import { seen } from './helpers.js';
import { type LbMesh, fanOut, instance, startLbMesh, tally } from './lb-mesh.js';

let m: LbMesh;
const call = (h: string, extra?: Record<string, string>, path?: string) => m.call(h, extra, path);

before(async () => { m = await startLbMesh(); });
after(async () => { await m?.stop(); });

test('ROUND_ROBIN over three replicas is 1:1:1 (±5%), RANDOM is uniform', async (t) => {
  const t0 = performance.now();
  const rr = tally(await fanOut(300, 30, () => call('rr')));
  t.diagnostic(`round robin: ${JSON.stringify([...rr])} in ${Math.round(performance.now() - t0)} ms`);
  assert.equal(rr.size, 3);
  for (const [k, v] of rr) assert.ok(Math.abs(v / 300 - 1 / 3) <= 0.05, `${k}: ${v}/300`);
  const t1 = performance.now();
  const rndAll = await fanOut(450, 30, () => call('random'));
  const rnd = tally(rndAll);
  const slowest = rndAll.map((x) => x.ms).sort((a, b) => b - a).slice(0, 5).map(Math.round);
  t.diagnostic(`random: ${JSON.stringify([...rnd])} in ${Math.round(performance.now() - t1)} ms, slowest ${slowest.join(',')}`);
  assert.equal(rnd.size, 3);
  for (const [k, v] of rnd) assert.ok(Math.abs(v / 450 - 1 / 3) <= 0.08, `${k}: ${v}/450`);
});

test('LEAST_REQUEST sends clearly less to the slow replica; consistent hash keeps a key on one endpoint', async (t) => {
  const lr = tally(await fanOut(400, 20, () => call('lr')));
  t.diagnostic(`least request: ${JSON.stringify([...lr])}`);
  const slow = lr.get('lb-2') ?? 0;
  // Uniform would be a third each; power-of-two-choices on requests in flight keeps the slow one well below.
  assert.ok(slow < (lr.get('lb-0') ?? 0) * 0.65 && slow < (lr.get('lb-1') ?? 0) * 0.65, `slow replica got ${slow}`);
  const owners = new Map<string, Set<string>>();
  await fanOut(200, 20, (i) => call('hash', { 'x-user': `user-${i % 20}` }).then((r) => {
    const key = `user-${i % 20}`;
    const set = owners.get(key) ?? new Set<string>();
    set.add(instance(r));
    owners.set(key, set);
    return r;
  }));
  for (const [k, set] of owners) assert.equal(set.size, 1, `${k} went to ${[...set].join(', ')}`);
  const used = new Set([...owners.values()].map((s) => [...s][0]));
  t.diagnostic(`20 keys over ${used.size} replicas`);
  assert.ok(used.size >= 2, 'keys spread over the replicas');
});

test('mirroring sends copies to the shadow (host -shadow); the client sees only the primary answer', async () => {
  const before0 = await seen(m.shadow, 9001);
  const rs = await fanOut(20, 5, () => call('mirror'));
  assert.ok(rs.every(({ r }) => r.status === 200 && instance(r).startsWith('lb-')));
  await pollUntil('20 copies at the shadow', async () => (await seen(m.shadow, 9001)) - before0 === 20, 5000);
  const last = await send({ host: (await m.shadow.workload()).address, port: 9001, path: '/__last' });
  assert.equal(last.body, 'lb-shadow:9000');
});

test('redirect and rewrite (seed 003 sections 4.6, 4.7): 302 to the new authority and path; /api/x reaches the backend as /x', async () => {
  const r = await call('redirect', {}, '/old/page?q=1');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://www.example.com/new/place?q=1');
  const w = await call('rewrite', {}, '/api/books?id=7');
  assert.equal(w.status, 200);
  assert.match(w.body, / host=backend\.internal path=\/books\?id=7\n$/);
});
