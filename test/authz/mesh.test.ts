// Seed 001-07 in a real mesh (weftd in-process, `weft run` sidecars, auto mTLS): the caller's
// identity comes from its sidecar's certificate, so only the bookinfo-viewer service account's GETs
// reach productpage; its POST and every other caller get 403 RBAC: access denied.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { SEEDS, pollUntil, send } from '../e2e/helpers.js';

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: productpage, namespace: default }
spec:
  selector: { app: productpage }
  ports: [{ name: http, port: 9080, targetPort: 9080 }]
`;

let mesh: TestMesh;
let productpage: RunningWorkload;
let viewer = '';
let other = '';

const idle = [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'];

before(async () => {
  mesh = await TestMesh.start();
  await mesh.apply(SERVICE);
  const [pp, v, o] = await Promise.all([
    mesh.runSample('productpage', 'v1', 'httpbin/httpbin.js', 9080),
    mesh.run(['--name', 'viewer', '--service-account', 'bookinfo-viewer'], idle),
    mesh.run(['--name', 'intruder', '--service-account', 'intruder'], idle),
  ]);
  productpage = pp;
  viewer = (await v.workload()).address;
  other = (await o.workload()).address;
});
after(async () => { await mesh?.stop(); });

const via = (from: string, method = 'GET') => send({ host: from, port: 15001, path: 'http://productpage:9080/anything', method });

void test('seed 001-07 over mTLS: the viewer\'s GET 200, its POST 403, another service account 403; the sidecar logs the denial', { timeout: 60_000 }, async () => {
  await pollUntil('productpage through the viewer sidecar over mTLS', async () => (await via(viewer).catch(() => ({ status: 0 }))).status === 200, 20_000);
  assert.match((await via(viewer)).body, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-viewer/, 'XFCC shows the mTLS identity');
  await mesh.applyFile(join(SEEDS, '001-07-authorizationpolicy.yaml'));
  await pollUntil('the policy applies to intruders', async () => (await via(other)).status === 403, 20_000);
  const denied = await via(other);
  assert.equal(denied.body, 'RBAC: access denied');
  assert.equal((await via(viewer)).status, 200);
  const post = await via(viewer, 'POST');
  assert.deepEqual([post.status, post.body], [403, 'RBAC: access denied']);
  assert.match(productpage.output(), /rbac: denied GET productpage:9080\/anything from spiffe:\/\/cluster\.local\/ns\/default\/sa\/intruder/);
});
