// Certificates with a 30 s lifetime rotate at about half-life under steady mTLS load, with zero
// failed requests (new connections use the new certificate, open ones keep going).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { SteadyLoad, pollUntil, send } from '../e2e/helpers.js';

let mesh: TestMesh;
let client: RunningWorkload;
let clientAddr = '';
let serverAddr = '';

before(async () => {
  mesh = await TestMesh.start({ ca: { workloadCertTtlMs: 30_000 } });
  await mesh.apply(`
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000, targetPort: 8000 }]
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`);
  const [server, c] = await Promise.all([
    mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000),
    mesh.run(['--name', 'sleep', '--service-account', 'sleep'], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']),
  ]);
  client = c;
  clientAddr = (await c.workload()).address;
  serverAddr = (await server.workload()).address;
});
after(async () => { await mesh?.stop(); });

async function serial(address: string): Promise<string> {
  const dump = await (await fetch(`http://${address}:15000/config_dump`)).json() as { configs: { dynamic_active_secrets?: { name: string; certificates: { serial_number: string }[] }[] }[] };
  const s = dump.configs.flatMap((c) => c.dynamic_active_secrets ?? []).find((x) => x.name === 'default');
  return s?.certificates[0]?.serial_number ?? '';
}

test('30 s certificates rotate at half-life on both sides under steady load, zero failed requests', async () => {
  await pollUntil('mesh mTLS', async () => (await send({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/get' })).status === 200, 15_000);
  const first = { client: await serial(clientAddr), server: await serial(serverAddr) };
  // Short-lived connections too (pauses let keep-alive sockets idle out sometimes), and long-lived ones.
  const load = new SteadyLoad(() => ({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/get' }), 3);
  await pollUntil('both certificates rotated', async () => (await serial(clientAddr)) !== first.client && (await serial(serverAddr)) !== first.server, 25_000);
  const after = load.successes();
  await pollUntil('traffic after rotation', async () => load.successes() > after + 100, 10_000);
  const r = await load.stop();
  assert.deepEqual(r.failures, [], r.failures.slice(0, 5).join('\n'));
  assert.match(client.output(), /certificate rotated: serial [0-9a-f]+/);
  // New connections after the rotation handshake with the new certificates.
  const h = await send({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/headers' });
  assert.equal(h.status, 200);
});
