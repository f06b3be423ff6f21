// Attacks on weftd's xDS port (real TLS, real weftd): who may ask for what. A certificate proves a
// namespace/service account; a node claiming another one is refused PERMISSION_DENIED and logged
// naming both; gateway secrets (`kubernetes://NAME`) go only to the gateway's own identity; no
// certificate, an expired one or another CA's is refused in the TLS handshake; plaintext xDS
// (--insecure-xds) serves config as claimed but never a secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createAdsClient, type AdsClient } from '../../src/xds/client.js';
import { TYPE } from '../../src/xds/protos.js';
import { sidecarNodeId } from '../../src/weftd/proxies.js';
import { makeCsr } from '../../src/security/workload-cert.js';
import { CertificateAuthority } from '../../src/security/ca.js';
import { execFile } from 'node:child_process';
import { TestMesh, WEFT, waitFor } from '../helpers/mesh.js';
import { makeCa, issue } from '../gateway/certs.js';

const GW = { name: 'istio-ingressgateway', namespace: 'istio-system', serviceAccount: 'istio-ingressgateway-service-account' };
const SECRET = 'kubernetes://gw-cred';
let mesh: TestMesh;
let plain: TestMesh;
const logs: string[] = [];
const plainLogs: string[] = [];
const clients: AdsClient[] = [];
let gwAddress = '';
let plainGwAddress = '';

/** Polls a synchronous condition with a deadline. */
const until = (what: string, f: () => boolean, ms: number): Promise<unknown> => waitFor(what, () => Promise.resolve(f()), ms);

interface Pair { certChainPem: string; keyPem: string; rootPem: string }

/** A workload certificate from weftd's CA, as a sidecar gets it (join token + CSR). */
async function workloadCert(m: TestMesh, namespace: string, serviceAccount: string): Promise<Pair> {
  const { csrPem, keyPem } = await makeCsr('cluster.local', namespace, serviceAccount);
  const res = await fetch(`${m.weftd.apiUrl}/apis/weft.dev/v1/namespaces/${namespace}/certificatesigningrequests`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${m.weftd.issueJoinToken(namespace, serviceAccount)}` },
    body: JSON.stringify({ serviceAccount, csr: csrPem }),
  });
  const j = await res.json() as { certChainPem: string; rootPem: string };
  assert.equal(res.status, 201, JSON.stringify(j));
  return { certChainPem: j.certChainPem, rootPem: j.rootPem, keyPem };
}

function node(kind: 'sidecar' | 'router', address: string, name: string, namespace: string, serviceAccount: string) {
  return { id: sidecarNodeId(kind, address, name, namespace), cluster: `${name}.${namespace}`, locality: {}, userAgent: 'attacker',
    metadata: { NAMESPACE: namespace, WORKLOAD_NAME: name, INSTANCE_IPS: address, SERVICE_ACCOUNT: serviceAccount, LABELS: {} } };
}

interface Probe { client: AdsClient; secrets: Map<string, Record<string, unknown>>; listeners: number; errors: string[] }

/** An ADS client that subscribes to listeners and the gateway secret, recording what it gets. */
function probe(address: string, n: ReturnType<typeof node>, credentials?: grpc.ChannelCredentials): Probe {
  const client = createAdsClient({ address, node: n, credentials, backoff: { initialMs: 100, maxMs: 300 },
    channelOptions: credentials ? { 'grpc.ssl_target_name_override': 'weftd' } : {} });
  clients.push(client);
  const p: Probe = { client, secrets: new Map(), listeners: 0, errors: [] };
  client.subscribe(TYPE.listener, '*', () => { p.listeners++; });
  client.subscribe(TYPE.secret, [SECRET], (u) => { for (const [k, v] of u.resources) p.secrets.set(k, v); });
  client.on('disconnected', (e) => p.errors.push(e.error));
  client.start();
  return p;
}

const mtls = (c: Pair): grpc.ChannelCredentials => grpc.credentials.createSsl(Buffer.from(c.rootPem), Buffer.from(c.keyPem), Buffer.from(c.certChainPem));

const GATEWAY_YAML = (crt: string, key: string) => `
apiVersion: v1
kind: Secret
metadata: { name: gw-cred, namespace: istio-system }
type: kubernetes.io/tls
data: { tls.crt: ${Buffer.from(crt).toString('base64')}, tls.key: ${Buffer.from(key).toString('base64')} }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: [shop.example.com]
    tls: { mode: SIMPLE, credentialName: gw-cred }
`;

async function setUp(m: TestMesh): Promise<string> {
  const ca = await makeCa('shop-ca');
  const server = await issue(ca, 'shop.example.com', ['shop.example.com']);
  await m.apply(GATEWAY_YAML(server.certPem, server.keyPem));
  const gw = m.weftd.workloads.register({ ...GW, labels: { istio: 'ingressgateway' }, ports: {}, ready: true });
  m.weftd.workloads.register({ name: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage' }, ports: {}, ready: true });
  return gw.address;
}

before(async () => {
  mesh = await TestMesh.start({ log: (l) => logs.push(l) });
  plain = await TestMesh.start({ insecureXds: true, log: (l) => plainLogs.push(l) });
  gwAddress = await setUp(mesh);
  plainGwAddress = await setUp(plain);
});

after(async () => {
  for (const c of clients) c.close();
  await mesh?.stop();
  await plain?.stop();
});

void test('the gateway proving its own identity gets its kubernetes:// secret (with the key)', async () => {
  const p = probe(mesh.weftd.xdsAddress, node('router', gwAddress, GW.name, GW.namespace, GW.serviceAccount), mtls(await workloadCert(mesh, GW.namespace, GW.serviceAccount)));
  await until('gateway secret', () => p.secrets.has(SECRET), 10_000);
  const s = p.secrets.get(SECRET) as { tls_certificate?: { private_key?: { inline_bytes?: unknown; inline_string?: unknown } } };
  assert.ok(s.tls_certificate?.private_key, 'the secret carries the private key');
});

void test('a valid certificate of namespace default claiming the istio-system gateway is refused PERMISSION_DENIED, logged with both identities', async () => {
  const sleep = await workloadCert(mesh, 'default', 'sleep');
  const p = probe(mesh.weftd.xdsAddress, node('router', gwAddress, GW.name, GW.namespace, GW.serviceAccount), mtls(sleep));
  await until('refusal', () => p.errors.length > 0, 10_000);
  assert.match(p.errors[0], /PERMISSION_DENIED|^7 /, p.errors[0]);
  assert.match(p.errors[0], /istio-system\/istio-ingressgateway-service-account/);
  const line = logs.find((l) => l.includes('refused node') && l.includes('spiffe://cluster.local/ns/default/sa/sleep'));
  assert.ok(line, logs.join('\n'));
  assert.match(line, /claims gateway istio-system\/istio-ingressgateway \(identity istio-system\/istio-ingressgateway-service-account\)/);
  assert.match(line, /namespace istio-system is not the certificate's namespace default/);
  assert.equal(p.secrets.size, 0);
  assert.equal(p.listeners, 0, 'a refused stream gets no config at all');
});

void test('the right namespace but another service account: refused (a registered workload\'s account must be proven)', async () => {
  const sleep = await workloadCert(mesh, 'default', 'sleep');
  // Claims SERVICE_ACCOUNT sleep (true) but the name of productpage-v1, registered with bookinfo-productpage.
  const p = probe(mesh.weftd.xdsAddress, node('sidecar', '127.0.0.9', 'productpage-v1', 'default', 'sleep'), mtls(sleep));
  await until('refusal', () => p.errors.length > 0, 10_000);
  assert.match(p.errors[0], /PERMISSION_DENIED|^7 /);
  assert.ok(logs.some((l) => l.includes('refused node') && l.includes('service account bookinfo-productpage is not the certificate\'s service account sleep')), logs.join('\n'));
  assert.equal(p.listeners, 0);
  // Its own identity is served.
  const own = probe(mesh.weftd.xdsAddress, node('sidecar', '127.0.0.10', 'sleep-v1', 'default', 'sleep'), mtls(sleep));
  await until('own config', () => own.listeners > 0, 10_000);
});

void test('a sidecar of the gateway\'s namespace but another account gets no gateway secrets', async () => {
  const other = await workloadCert(mesh, GW.namespace, 'someone-else');
  const p = probe(mesh.weftd.xdsAddress, node('router', gwAddress, GW.name, GW.namespace, 'someone-else'), mtls(other));
  await until('refusal', () => p.errors.length > 0, 10_000);
  assert.equal(p.secrets.size, 0);
});

/** Opens a raw TLS connection to weftd's xDS port; resolves with the error that ends it, or 'open'. */
function handshake(port: number, rootPem: string, cert?: { certChainPem: string; keyPem: string }): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'weftd', ca: rootPem, ALPNProtocols: ['h2'], cert: cert?.certChainPem, key: cert?.keyPem });
    let settled = false;
    const done = (r: string): void => { if (!settled) { settled = true; clearTimeout(timer); s.destroy(); resolve(r); } };
    // TLS 1.3: the server checks the client certificate after the client's handshake finished: no
    // certificate gets an alert from OpenSSL, a bad one is dropped by Node before any byte of HTTP/2;
    // a good client gets the server's HTTP/2 SETTINGS.
    s.on('data', () => done('open'));
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    s.on('close', () => done('closed'));
    const timer = setTimeout(() => done('timeout'), 5000);
  });
}

void test('no certificate, an expired certificate or another CA\'s: refused in the TLS handshake', async () => {
  const port = Number(mesh.weftd.xdsAddress.split(':')[1]);
  const good = await workloadCert(mesh, GW.namespace, GW.serviceAccount);
  assert.equal(await handshake(port, good.rootPem, good), 'open');
  const refused = /ALERT|^closed$|ECONNRESET/; // never 'open' (HTTP/2 spoken) nor 'timeout'
  assert.match(await handshake(port, good.rootPem), /CERTIFICATE_REQUIRED/);
  // Same CA (weftd's root key in its data dir), but a certificate that expired an hour ago.
  const past = await CertificateAuthority.open({ dataDir: mesh.weftd.dataDir, clock: () => Date.now() - 48 * 3600_000 });
  const { csrPem, keyPem } = await makeCsr('cluster.local', GW.namespace, GW.serviceAccount);
  const expired = await past.signCsr(csrPem, { namespace: GW.namespace, serviceAccount: GW.serviceAccount }, 3600_000);
  assert.match(await handshake(port, good.rootPem, { certChainPem: expired.certChainPem, keyPem }), refused);
  // The right SPIFFE identity from another CA.
  const foreign = await CertificateAuthority.open({});
  const f = await makeCsr('cluster.local', GW.namespace, GW.serviceAccount);
  const forged = await foreign.signCsr(f.csrPem, { namespace: GW.namespace, serviceAccount: GW.serviceAccount });
  assert.match(await handshake(port, good.rootPem, { certChainPem: forged.certChainPem, keyPem: f.keyPem }), refused);
  // And through gRPC: the forged gateway never gets a stream, let alone its secret.
  const p = probe(mesh.weftd.xdsAddress, node('router', gwAddress, GW.name, GW.namespace, GW.serviceAccount),
    mtls({ certChainPem: forged.certChainPem, keyPem: f.keyPem, rootPem: good.rootPem }));
  const noCert = probe(mesh.weftd.xdsAddress, node('router', gwAddress, GW.name, GW.namespace, GW.serviceAccount), grpc.credentials.createSsl(Buffer.from(good.rootPem)));
  await until('handshake failures', () => p.errors.length > 0 && noCert.errors.length > 0, 10_000);
  assert.match(p.errors[0], /UNAVAILABLE|^14 /);
  assert.equal(p.secrets.size + noCert.secrets.size + p.listeners + noCert.listeners, 0);
});

void test('plaintext xDS (--insecure-xds): config is served as claimed, secrets never, and weftd says why', async () => {
  const p = probe(plain.weftd.xdsAddress, node('router', plainGwAddress, GW.name, GW.namespace, GW.serviceAccount));
  await until('listeners', () => p.listeners > 0, 10_000);
  await until('refusal logged', () => plainLogs.some((l) => l.includes('no secrets served') && l.includes('plaintext')), 10_000);
  assert.equal(p.secrets.size, 0);
});

void test('weft proxy without a join token against TLS xDS exits at once, saying it needs a workload certificate', async () => {
  const env = { ...process.env };
  delete env.WEFT_JOIN_TOKEN;
  const r = await new Promise<{ code: number; err: string }>((resolve) => {
    execFile(process.execPath, [WEFT, 'proxy', '--xds', mesh.weftd.xdsAddress, '--address', '127.0.0.1', '--name', 'no-token', '--admin-port', '0',
      '--control-plane', mesh.weftd.apiUrl], { env, timeout: 20_000 }, (e, _out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, err: String(err) }));
  });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /weft proxy: weftd serves xDS over mutual TLS and needs this proxy's workload certificate/);
  assert.doesNotMatch(r.err, /\n\s+at /, 'a clear message, no stack');
});
