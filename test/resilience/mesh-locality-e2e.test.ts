// Mesh localityLbSetting and failoverPriority on a plain label with real processes: weftd started
// with the mesh config (as `weft up --mesh-config` passes it), replicas and clients under `weft run`
// (--locality, --labels). The mesh's distribute splits a service with no locality setting of its own
// 80/20; a DestinationRule's failoverPriority [version] keeps each client on its own version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { TestMesh } from '../helpers/mesh.js';
import { pollUntil, send } from '../e2e/helpers.js';
import { REPLICA } from './helpers.js';

const CONFIG = `
apiVersion: v1
kind: Service
metadata: { name: zoned }
spec: { selector: { app: zoned }, ports: [{ name: http, port: 9000 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: zoned }
spec:
  host: zoned
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
---
apiVersion: v1
kind: Service
metadata: { name: versioned }
spec: { selector: { app: versioned }, ports: [{ name: http, port: 9100 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: versioned }
spec:
  host: versioned
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 5 }
    loadBalancer: { localityLbSetting: { failoverPriority: [version] } }
`;

void test('mesh distribute 80/20 through a real client sidecar; failoverPriority [version] follows each client\'s own label', { timeout: 120_000 }, async (t) => {
  const mesh = await TestMesh.start({ mesh: { localityLbSetting: { distribute: [{ from: 'us-east/zone-a/*', to: { 'us-east/zone-a/*': 80, 'us-east/zone-b/*': 20 } }] } } });
  const agent = new Agent({ keepAlive: true });
  try {
    await mesh.apply(CONFIG);
    const replica = (name: string, service: string, port: number, locality: string, version: string) =>
      mesh.run(['--service', service, '--port', `${port}:http`, '--labels', `app=${service},version=${version}`, '--name', name, '--locality', locality], [process.execPath, REPLICA]);
    const client = (name: string, version: string) =>
      mesh.run(['--name', name, '--locality', 'us-east/zone-a', '--labels', `app=client,version=${version}`], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']);
    const [, , , , c1, c2] = await Promise.all([
      replica('zone-a', 'zoned', 9000, 'us-east/zone-a', 'v1'), replica('zone-b', 'zoned', 9000, 'us-east/zone-b', 'v1'),
      replica('ver-v1', 'versioned', 9100, 'us-east/zone-a', 'v1'), replica('ver-v2', 'versioned', 9100, 'us-east/zone-a', 'v2'),
      client('client-v1', 'v1'), client('client-v2', 'v2'),
    ]);
    const [a1, a2] = [(await c1.workload()).address, (await c2.workload()).address];
    const call = async (addr: string, url: string): Promise<string> => {
      const r = await send({ host: addr, port: 15001, path: url }, agent, 10_000);
      return /instance=(\S+)/.exec(r.body)?.[1] ?? `status ${r.status}`;
    };
    await pollUntil('both zones answer', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add(await call(a1, 'http://zoned:9000/'));
      return seen.has('zone-a') && seen.has('zone-b');
    }, 30_000);
    const tally = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const k = await call(a1, 'http://zoned:9000/');
      tally.set(k, (tally.get(k) ?? 0) + 1);
    }
    t.diagnostic(JSON.stringify([...tally]));
    assert.ok(Math.abs((tally.get('zone-a') ?? 0) - 80) <= 3 && Math.abs((tally.get('zone-b') ?? 0) - 20) <= 3, JSON.stringify([...tally]));
    for (const [addr, want] of [[a1, 'ver-v1'], [a2, 'ver-v2']] as const) {
      await pollUntil(`${want} reachable`, async () => (await call(addr, 'http://versioned:9100/')) === want, 20_000);
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add(await call(addr, 'http://versioned:9100/'));
      assert.deepEqual([...seen], [want]);
    }
  } finally {
    agent.destroy();
    await mesh.stop();
  }
});
