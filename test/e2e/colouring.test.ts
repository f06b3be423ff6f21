// Seed 002 (traffic colouring): testaaa calls testbbb in namespace test-istio, forwarding the
// `project-version` header; each service runs versions `release` and `release-v1`, and the seed's
// VirtualServices pick release-v1 for `project-version: release-v1`, `release` for everything else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestMesh, freePort, ROOT, type RunningWorkload } from '../helpers/mesh.js';
import { SEEDS, pollUntil, send } from './helpers.js';

const APP = join(ROOT, 'dist', 'test', 'e2e', 'apps', 'colour-app.js');
let mesh: TestMesh | undefined;
let gwPort = 0;
let client: RunningWorkload;

function colourApp(role: 'aaa' | 'bbb', version: string): Promise<RunningWorkload> {
  const port = role === 'aaa' ? 31000 : 32000;
  return mesh!.run(['--service', `test${role}`, '--namespace', 'test-istio', '--port', `${port}:http`, '--version', version,
    '--name', `test${role}-${version}`], [process.execPath, APP], { ROLE: role, PROJECT_VERSION: version });
}

before(async () => {
  gwPort = await freePort();
  mesh = await TestMesh.start({ mesh: { gatewayPortMap: { 80: gwPort } } });
  for (const f of ['002-01-testaaa-service.yaml', '002-02-testbbb-service.yaml', '002-03-gateway.yaml', '002-04-testaaa-destinationrule.yaml',
    '002-05-testaaa-virtualservice.yaml', '002-06-testbbb-routing.yaml']) {
    await mesh.applyFile(join(SEEDS, f));
  }
  await Promise.all([
    mesh.startGateway(),
    colourApp('aaa', 'release'), colourApp('aaa', 'release-v1'),
    colourApp('bbb', 'release'), colourApp('bbb', 'release-v1'),
    mesh.runClient('sleep', 'test-istio').then((c) => { client = c; }),
  ]);
});

after(async () => { await mesh?.stop(); });

const viaGateway = (header?: string) => send({ host: '127.0.0.1', port: gwPort, path: '/', headers: header ? { 'project-version': header } : {} });

test('through the ingress gateway the whole chain follows project-version, release otherwise', async () => {
  // Every subset needs its endpoint before the assertions.
  await pollUntil('release-v1 chain', async () => (await viaGateway('release-v1')).body === 'testaaa:release-v1 testbbb:release-v1', 15_000);
  await pollUntil('release chain', async () => (await viaGateway()).body === 'testaaa:release testbbb:release', 15_000);
  const cases: [string | undefined, string][] = [
    [undefined, 'testaaa:release testbbb:release'],
    ['release-v1', 'testaaa:release-v1 testbbb:release-v1'],
    ['release', 'testaaa:release testbbb:release'],
    ['release-v2', 'testaaa:release testbbb:release'], // no such version: falls back to release, as in the seed
  ];
  for (let i = 0; i < 5; i++) {
    for (const [header, want] of cases) {
      const r = await viaGateway(header);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, want, `project-version: ${header ?? '(none)'}`);
    }
  }
});

test('inside the mesh (not through the gateway) testaaa\'s gateway-bound rule does not apply, testbbb\'s does: all four combinations', async () => {
  const addr = (await client.workload()).address;
  const call = (header?: string) => send({ host: addr, port: 15001, path: 'http://testaaa.test-istio.svc.cluster.local:31000/', headers: header ? { 'project-version': header } : {} });
  const seen = new Map<string, number>();
  const deadline = Date.now() + 15_000;
  // testaaa is picked by plain load balancing (its VirtualService names only the gateway); testbbb by the header.
  while (seen.size < 4 && Date.now() < deadline) {
    for (const h of ['release-v1', undefined]) {
      const r = await call(h);
      if (r.status !== 200) continue;
      const key = `${h ?? '(none)'} => ${r.body}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  assert.deepEqual([...seen.keys()].sort(), [
    '(none) => testaaa:release testbbb:release',
    '(none) => testaaa:release-v1 testbbb:release',
    'release-v1 => testaaa:release testbbb:release-v1',
    'release-v1 => testaaa:release-v1 testbbb:release-v1',
  ]);
  // Directly to testbbb from the same namespace: its rule applies.
  const direct = await send({ host: addr, port: 15001, path: 'http://testbbb.test-istio.svc.cluster.local:32000/', headers: { 'project-version': 'release-v1' } });
  assert.equal(direct.body, 'testbbb:release-v1');
});
