// Mesh trustDomain and trustDomainAliases (Istio's trust domain migration) with real sidecars and
// mTLS: certificates are issued in the current trust domain; an AuthorizationPolicy written for an
// alias (or for the trust domain while the peer's domain is its alias, or for cluster.local) allows
// the caller; a principal of a domain that is not an alias is denied.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { pollUntil, send } from '../e2e/helpers.js';

const BASE = `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 8000 }] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`;
const policy = (principal: string): string => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: httpbin-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - from: [{ source: { principals: ["${principal}"] } }]
`;

interface Setup { mesh: TestMesh; client: RunningWorkload; address: string }
const setups: Setup[] = [];
after(async () => { await Promise.all(setups.map((s) => s.mesh.stop())); });

async function start(trustDomain: string, aliases: string[]): Promise<Setup> {
  const mesh = await TestMesh.start({ mesh: { trustDomain, trustDomainAliases: aliases } });
  const s: Setup = { mesh, client: undefined as never, address: '' };
  setups.push(s);
  await mesh.apply(BASE + '---' + policy('nobody.example/ns/default/sa/sleep'));
  const [client] = await Promise.all([
    mesh.run(['--name', 'sleep', '--service-account', 'sleep'], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']),
    mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000),
  ]);
  s.client = client;
  s.address = (await client.workload()).address;
  return s;
}

const get = (s: Setup) => send({ host: s.address, port: 15001, path: 'http://httpbin:8000/headers' });
/** Applies the policy, then waits until the caller gets `status` (the push is asynchronous). */
async function expect(s: Setup, principal: string, status: number): Promise<string> {
  await s.mesh.apply(policy(principal));
  let last = { status: 0, body: '' };
  await pollUntil(`principal ${principal} -> ${status}`, async () => (last = await get(s)).status === status, 15_000)
    .catch((e: Error) => { throw new Error(`${e.message}; last ${last.status} ${last.body}`); });
  return last.body;
}

void test('certificates in trust domain A (new-td), policy for alias B (old-td): allowed; cluster.local means A; a non-alias domain is denied', async () => {
  const s = await start('new-td', ['old-td']);
  await expect(s, 'other-td/ns/default/sa/sleep', 403);
  const body = await expect(s, 'old-td/ns/default/sa/sleep', 200);
  // The peer certificates are issued in the current trust domain.
  assert.match(body, /URI=spiffe:\/\/new-td\/ns\/default\/sa\/sleep/);
  assert.match(body, /By=spiffe:\/\/new-td\/ns\/default\/sa\/httpbin/);
  await expect(s, 'other-td/ns/default/sa/sleep', 403);
  await expect(s, 'cluster.local/ns/default/sa/sleep', 200);
  await expect(s, 'old-td/ns/default/sa/other', 403);
  await expect(s, 'new-td/ns/default/sa/sleep', 200);
});

void test('the reverse: certificates in old-td with alias new-td, policy written for new-td: allowed; other-td denied', async () => {
  const s = await start('old-td', ['new-td']);
  const body = await expect(s, 'new-td/ns/default/sa/sleep', 200);
  assert.match(body, /URI=spiffe:\/\/old-td\/ns\/default\/sa\/sleep/);
  await expect(s, 'other-td/ns/default/sa/sleep', 403);
});
