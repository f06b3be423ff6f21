import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../helpers/io.js';
import { startTestWeftd } from '../helpers/weftd.js';

let weftd: Awaited<ReturnType<typeof startTestWeftd>>;
const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
const weft = async (args: string[], stdin = '') => {
  const io = captureIO({ WEFT_CONTROL_PLANE: weftd.apiUrl }, stdin);
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
};

const REVIEWS_VS = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
  - route:
    - destination:
        host: reviews
        subset: v1
`;
const REVIEWS_DR = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;

before(async () => { weftd = await startTestWeftd(); });
after(async () => { await weftd.cleanup(); });

test('apply creates, a second apply is unchanged, get -o yaml returns the document', async () => {
  const f = join(dir, 'reviews.yaml');
  writeFileSync(f, `${REVIEWS_DR}---\n${REVIEWS_VS}`);
  const r1 = await weft(['apply', '-f', f]);
  assert.equal(r1.code, 0, r1.err);
  assert.match(r1.out, /destinationrule\.networking\.istio\.io\/reviews created/);
  assert.match(r1.out, /virtualservice\.networking\.istio\.io\/reviews created/);
  const r2 = await weft(['apply', '-f', f]);
  assert.equal(r2.code, 0, r2.err);
  assert.match(r2.out, /virtualservice\.networking\.istio\.io\/reviews unchanged/);
  const g = await weft(['get', 'vs', 'reviews', '-o', 'json']);
  assert.equal(g.code, 0, g.err);
  const obj = JSON.parse(g.out) as { kind: string; spec: unknown; metadata: { namespace: string; resourceVersion: string } };
  assert.equal(obj.kind, 'VirtualService');
  assert.equal(obj.metadata.namespace, 'default');
  assert.ok(obj.metadata.resourceVersion);
  assert.deepEqual(obj.spec, {
    hosts: ['reviews'],
    http: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
      { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    ],
  });
  const table = await weft(['get', 'virtualservices']);
  assert.match(table.out, /^NAME\s+GATEWAYS\s+HOSTS\s+AGE/m);
  assert.match(table.out, /reviews\s+\["reviews"\]/);
});

test('apply from stdin with -n puts the objects in that namespace', async () => {
  const r = await weft(['apply', '-f', '-', '-n', 'team-a'], REVIEWS_DR);
  assert.equal(r.code, 0, r.err);
  const g = await weft(['get', 'dr', '-n', 'team-a', '-o', 'yaml']);
  assert.match(g.out, /namespace: team-a/);
  const all = await weft(['get', 'dr', '-A']);
  assert.match(all.out, /^NAMESPACE\s+NAME\s+HOST/m);
  assert.match(all.out, /team-a\s+reviews\s+reviews/);
});

test('one invalid document: exit 1, the error names file:line:column, and nothing is applied', async () => {
  const f = join(dir, 'mixed.yaml');
  const good = REVIEWS_DR.replace('name: reviews', 'name: ratings').replace('host: reviews', 'host: ratings');
  const bad = REVIEWS_VS.replace('name: reviews', 'name: broken').replace('  - route:\n', '  - timeout: 2x\n    route:\n');
  writeFileSync(f, `${good}---\n${bad}`);
  const r = await weft(['apply', '-f', f]);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${f.replace(/[.]/g, '\\.')}:\\d+:\\d+`));
  assert.match(r.err, /timeout/);
  assert.match(r.err, /nothing applied/);
  const g = await weft(['get', 'dr', 'ratings']);
  assert.equal(g.code, 1);
  assert.match(g.err, /not found/i);
});

test('delete by kind and name, and by file', async () => {
  const f = join(dir, 'vs-only.yaml');
  writeFileSync(f, REVIEWS_VS.replace('name: reviews', 'name: to-delete'));
  assert.equal((await weft(['apply', '-f', f])).code, 0);
  const d1 = await weft(['delete', 'vs', 'to-delete']);
  assert.equal(d1.code, 0, d1.err);
  assert.match(d1.out, /virtualservice\.networking\.istio\.io\/to-delete deleted/);
  assert.equal((await weft(['apply', '-f', f])).code, 0);
  const d2 = await weft(['delete', '-f', f]);
  assert.equal(d2.code, 0, d2.err);
  assert.match(d2.out, /to-delete deleted/);
});

test('exit codes: 2 for usage errors, 3 when weftd is unreachable, with a hint to run weft up', async () => {
  assert.equal((await weft(['get'])).code, 2);
  assert.equal((await weft(['get', 'nosuchkind'])).code, 2);
  assert.equal((await weft(['frobnicate'])).code, 2);
  const io = captureIO({ WEFT_CONTROL_PLANE: 'http://127.0.0.1:1' });
  const code = await main(['get', 'vs'], io);
  assert.equal(code, 3);
  assert.match(io.stderr(), /weft up/);
});

test('a Deployment gets a message saying how to run the workload with weft run', async () => {
  const f = join(dir, 'deploy.yaml');
  writeFileSync(f, 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n');
  const r = await weft(['apply', '-f', f]);
  assert.equal(r.code, 1);
  assert.match(r.err, /weft run/);
});
