// mTLS end to end with real processes (weftd in-process, `weft run` sidecars, Node TLS): auto mTLS
// with XFCC at httpbin, PeerAuthentication STRICT refusing plaintext, PERMISSIVE -> STRICT under
// steady load with zero failures, and the sidecar's secrets in /config_dump (no private key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { SEEDS, SteadyLoad, pollUntil, send } from '../e2e/helpers.js';

const HTTPBIN_SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000, targetPort: 8000 }]
`;

let mesh: TestMesh;
let client: RunningWorkload;
let httpbin: RunningWorkload;
let clientAddr = '';
let httpbinAddr = '';

before(async () => {
  mesh = await TestMesh.start();
  await mesh.apply(HTTPBIN_SERVICE);
  await mesh.applyFile(join(SEEDS, '001-18-peerauthentication-permissive.yaml'));
  [httpbin, client] = await Promise.all([
    mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000),
    mesh.run(['--name', 'sleep', '--service-account', 'sleep'], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']),
  ]);
  clientAddr = (await client.workload()).address;
  httpbinAddr = (await httpbin.workload()).address;
});
after(async () => { await mesh?.stop(); });

const headers = () => send({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/headers' });

/** A plaintext HTTP request straight to the workload's inbound port, bypassing the client sidecar. */
function plaintextDirect(): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: httpbinAddr, port: 8000 }, () => s.write('GET /headers HTTP/1.1\r\nhost: httpbin\r\nconnection: close\r\n\r\n'));
    let got = '';
    s.on('data', (c: Buffer) => { got += c.toString(); });
    s.on('error', () => resolve(got ? `partial:${got.slice(0, 20)}` : 'refused'));
    s.on('close', () => resolve(got ? got.slice(0, 15) : 'refused'));
  });
}

test('auto mTLS: httpbin sees X-Forwarded-Client-Cert with both SPIFFE identities (seed 000 /headers)', async () => {
  await pollUntil('httpbin through the client sidecar', async () => (await headers()).status === 200, 15_000);
  const body = JSON.parse((await headers()).body) as { headers: Record<string, string> };
  const xfcc = body.headers['X-Forwarded-Client-Cert'];
  assert.match(xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep$/, xfcc);
  // PERMISSIVE: plaintext still reaches the app, without any (forgeable) XFCC.
  assert.match(await plaintextDirect(), /^HTTP\/1\.1 200/);
});

test('PERMISSIVE -> STRICT (seed 001-18 then 001-05) under steady load: zero failed requests, then plaintext is refused', async () => {
  const load = new SteadyLoad(() => ({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/get' }), 4);
  await pollUntil('load running', async () => load.successes() > 50, 10_000);
  await mesh.applyFile(join(SEEDS, '001-05-peerauthentication-strict.yaml'));
  await pollUntil('STRICT applied: plaintext refused', async () => (await plaintextDirect()) === 'refused', 10_000);
  const before = load.successes();
  await pollUntil('traffic after STRICT', async () => load.successes() > before + 100, 10_000);
  const r = await load.stop();
  assert.deepEqual(r.failures, [], `failed requests: ${r.failures.slice(0, 5).join('\n')}`);
  assert.ok(r.total > 150, `only ${r.total} requests`);
  assert.match(httpbin.output(), /plaintext connection from .* refused: mTLS required/);
  // Mesh traffic still works and is mutual TLS.
  const h = JSON.parse((await headers()).body) as { headers: Record<string, string> };
  assert.match(h.headers['X-Forwarded-Client-Cert'], /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep/);
});

test('the sidecar admin shows its secrets (serial, SAN, validity, root) and never the private key', async () => {
  const dump = await (await fetch(`http://${clientAddr}:15000/config_dump`)).json() as { configs: { '@type': string; dynamic_active_secrets?: { name: string; secret: unknown; certificates: { serial_number: string; subject_alt_names: string; expiration_time: string }[] }[] }[] };
  const secrets = dump.configs.find((c) => c['@type'].endsWith('SecretsConfigDump'))?.dynamic_active_secrets ?? [];
  assert.deepEqual(secrets.map((s) => s.name).sort(), ['ROOTCA', 'default']);
  const def = secrets.find((s) => s.name === 'default')!;
  assert.equal(def.certificates[0].subject_alt_names, 'URI:spiffe://cluster.local/ns/default/sa/sleep');
  assert.match(def.certificates[0].serial_number, /^[0-9a-f]+$/);
  assert.ok(Date.parse(def.certificates[0].expiration_time) > Date.now());
  assert.doesNotMatch(JSON.stringify(dump), /BEGIN (EC )?PRIVATE KEY/);
});
