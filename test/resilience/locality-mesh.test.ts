// Locality weights with real processes: `weft run --locality` places the replicas and the client,
// weftd translates the DestinationRule's `distribute` for the client's sidecar (its locality from its
// workload), and the client's sidecar splits the calls 80/20 between the zones.
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
spec:
  selector: { app: zoned }
  ports: [{ name: http, port: 9000 }]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: zoned }
spec:
  host: zoned
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        distribute:
        - from: us-east/zone-a/*
          to:
            "us-east/zone-a/*": 80
            "us-east/zone-b/*": 20
`;

void test('distribute 80/20 across zones through a real client sidecar (weft run --locality)', { timeout: 120_000 }, async (t) => {
  const mesh = await TestMesh.start();
  const agent = new Agent({ keepAlive: true });
  try {
    await mesh.apply(CONFIG);
    const replica = (name: string, locality: string) => mesh.run(['--service', 'zoned', '--port', '9000:http', '--labels', 'app=zoned', '--name', name, '--locality', locality],
      [process.execPath, REPLICA]);
    const [, , client] = await Promise.all([
      replica('zone-a', 'us-east/zone-a'),
      replica('zone-b', 'us-east/zone-b'),
      mesh.run(['--name', 'client', '--locality', 'us-east/zone-a'], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']),
    ]);
    const addr = (await client.workload()).address;
    const call = async (): Promise<string> => {
      const r = await send({ host: addr, port: 15001, path: 'http://zoned:9000/' }, agent, 10_000);
      return /instance=(\S+)/.exec(r.body)?.[1] ?? `status ${r.status}`;
    };
    await pollUntil('both zones answer through the client sidecar', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add(await call());
      return seen.has('zone-a') && seen.has('zone-b');
    }, 30_000);
    const tally = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const k = await call();
      tally.set(k, (tally.get(k) ?? 0) + 1);
    }
    t.diagnostic(JSON.stringify([...tally]));
    assert.ok(Math.abs((tally.get('zone-a') ?? 0) - 80) <= 3, JSON.stringify([...tally]));
    assert.ok(Math.abs((tally.get('zone-b') ?? 0) - 20) <= 3, JSON.stringify([...tally]));
  } finally {
    agent.destroy();
    await mesh.stop();
  }
});
