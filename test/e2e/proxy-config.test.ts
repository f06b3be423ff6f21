// `weft proxy-status` and `weft proxy-config` against real sidecars: every sidecar SYNCED, and the
// tables read the sidecar's own /config_dump (clusters, listeners, routes, endpoints) like istioctl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../helpers/io.js';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { BOOKINFO, SEEDS, pollUntil } from './helpers.js';

let mesh: TestMesh | undefined;
let client: RunningWorkload;
let reviews: RunningWorkload;

before(async () => {
  mesh = await TestMesh.start();
  await mesh.applyFile(join(BOOKINFO, 'platform', 'services.yaml'));
  await mesh.applyFile(join(BOOKINFO, 'networking', 'destination-rule-all.yaml'));
  await mesh.applyFile(join(SEEDS, '003-01-reviews-jason.yaml'));
  [client, reviews] = await Promise.all([mesh.runClient('sleep'), mesh.runSample('reviews', 'v1', 'bookinfo/reviews.js', 9080, ['--version', 'v1'])]);
});

after(async () => { await mesh?.stop(); });

async function weft(...args: string[]): Promise<string> {
  const io = captureIO({ WEFT_CONTROL_PLANE: mesh!.weftd.apiUrl });
  const code = await main(args, io);
  assert.equal(code, 0, `weft ${args.join(' ')}: ${io.stderr()}`);
  return io.stdout();
}

const rows = (table: string): string[][] => table.trim().split('\n').slice(1).map((l) => l.trim().split(/\s{2,}/));

test('weft proxy-status lists every sidecar SYNCED for CDS, LDS, EDS and RDS', async () => {
  let out = '';
  await pollUntil('both sidecars SYNCED', async () => {
    out = await weft('proxy-status');
    const mine = rows(out).filter((r) => r[0] === 'sleep.default' || r[0] === `${reviews.name}.default`);
    return mine.length === 2 && mine.every((r) => r.slice(1, 5).every((c) => c === 'SYNCED'));
  }, 10_000).catch((e: Error) => { throw new Error(`${e.message}\n${out}`); });
  assert.deepEqual(out.split('\n')[0].trim().split(/\s+/), ['NAME', 'CDS', 'LDS', 'EDS', 'RDS', 'AGENT', 'VERSION']);
});

test('weft proxy-config clusters|listeners|routes|endpoints print what the sidecar runs', async () => {
  const reviewsAddr = (await reviews.workload()).address;
  const clientAddr = (await client.workload()).address;
  // Endpoints reach the client after reviews turns ready.
  await pollUntil('reviews endpoint at the client', async () => (await weft('proxy-config', 'endpoints', 'sleep')).includes(`${reviewsAddr}:9080`), 10_000);

  const clusters = rows(await weft('proxy-config', 'clusters', 'sleep'));
  for (const subset of ['-', 'v1', 'v2', 'v3']) {
    assert.ok(clusters.some((r) => r.join('|') === `reviews.default.svc.cluster.local|9080|${subset}|outbound|EDS`), `reviews subset ${subset}:\n${clusters.join('\n')}`);
  }
  assert.ok(clusters.some((r) => r[0] === 'PassthroughCluster' && r[4] === 'ORIGINAL_DST'));
  assert.ok(clusters.some((r) => r[0] === 'BlackHoleCluster'));

  const listeners = rows(await weft('proxy-config', 'listeners', 'sleep'));
  assert.deepEqual(listeners.find((r) => r[0] === 'virtualOutbound'), ['virtualOutbound', clientAddr, '15001', 'ALL', 'Cluster: PassthroughCluster']);
  assert.deepEqual(listeners.find((r) => r[0] === '0.0.0.0_9080'), ['0.0.0.0_9080', '0.0.0.0', '9080', 'Port handoff', 'Route: 9080']);
  const inbound = rows(await weft('proxy-config', 'listeners', reviews.name)).find((r) => r[0] === `${reviewsAddr}_9080`);
  assert.deepEqual(inbound, [`${reviewsAddr}_9080`, reviewsAddr, '9080', 'ALL', 'Inline Route: inbound|9080||']);

  const routes = rows(await weft('proxy-config', 'routes', 'sleep'));
  const rv = routes.filter((r) => r[0] === '9080' && r[1] === 'reviews.default.svc.cluster.local:9080');
  assert.equal(rv.length, 2, routes.join('\n'));
  assert.match(rv[0][2], /^reviews\.default\.svc\.cluster\.local, reviews\.default\.svc\.cluster\.local:9080 \+ \d+ more\.\.\.$/);
  assert.equal(rv[0][3], '/* [end-user=jason]', 'the seed\'s header match is shown');
  assert.equal(rv[1][3], '/*');

  const endpoints = rows(await weft('proxy-config', 'endpoints', 'sleep'));
  assert.ok(endpoints.some((r) => r.join('|') === `${reviewsAddr}:9080|HEALTHY|OK|outbound|9080|v1|reviews.default.svc.cluster.local`), endpoints.join('\n'));
  assert.ok(endpoints.some((r) => r.join('|') === `${reviewsAddr}:9080|HEALTHY|OK|outbound|9080||reviews.default.svc.cluster.local`));
  assert.ok(!endpoints.some((r) => r[3].includes('|v2|')), 'no reviews v2 is running');

  const json = JSON.parse(await weft('proxy-config', 'clusters', 'sleep', '-o', 'json')) as { name: string }[];
  assert.ok(json.some((c) => c.name === 'outbound|9080|v1|reviews.default.svc.cluster.local'));
  const bootstrap = await weft('proxy-config', 'bootstrap', 'sleep');
  assert.match(bootstrap, new RegExp(`id: sidecar~${clientAddr.replace(/\./g, '\\.')}~sleep\\.default~default\\.svc\\.cluster\\.local`));
});

test('weft proxy-config names an unknown workload clearly', async () => {
  const io = captureIO({ WEFT_CONTROL_PLANE: mesh!.weftd.apiUrl });
  assert.notEqual(await main(['proxy-config', 'clusters', 'nosuch'], io), 0);
  assert.match(io.stderr(), /no workload named nosuch/);
});
