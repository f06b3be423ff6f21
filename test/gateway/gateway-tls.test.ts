// Gateway TLS end to end (real processes, real TLS): the seed's Gateway (httpsRedirect on 80, SIMPLE on
// 443), credentialName secrets from `weft create secret` (SIMPLE, MUTUAL), PASSTHROUGH by SNI to two
// TLS backends, a missing secret, secret rotation without restart, and X-Forwarded-Proto.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestMesh, WEFT, freePort, type RunningWorkload } from '../helpers/mesh.js';
import { SEEDS, pollUntil, send } from '../e2e/helpers.js';
import { makeCa, issue, writePems, type TestCa } from './certs.js';
import { h2Get, httpsGet, peerCertificate, startGatewayProxy, tlsExchange } from './helpers.js';

const GW_NS = 'some-config-namespace';
let mesh: TestMesh;
let gateway: RunningWorkload;
let client: RunningWorkload;
let ca: TestCa;
let p80 = 0;
let p443 = 0;
const backends: tls.Server[] = [];
const weftdLog: string[] = [];

function weft(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT, ...args, '--control-plane', mesh.weftd.apiUrl], { env: { ...process.env } }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) });
    });
  });
}

async function tlsBackend(name: string): Promise<number> {
  const c = await issue(ca, name, [name]);
  const srv = tls.createServer({ cert: c.certPem, key: c.keyPem }, (s) => { s.end(`backend ${name} (sni ${String((s as tls.TLSSocket & { servername?: string }).servername)})`); });
  backends.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as AddressInfo).port;
}

const GATEWAYS = () => `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 8000 }] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: creds-gw, namespace: ${GW_NS} }
spec:
  selector: { app: my-gateway-controller }
  servers:
  - port: { number: 80, name: http-plain, protocol: HTTP }
    hosts: [httpbin.example.com]
  - port: { number: 443, name: https-simple, protocol: HTTPS }
    hosts: [httpbin.example.com]
    tls: { mode: SIMPLE, credentialName: httpbin-credential, minProtocolVersion: TLSV1_2 }
  - port: { number: 443, name: https-mutual, protocol: HTTPS }
    hosts: [mtls.example.com]
    tls: { mode: MUTUAL, credentialName: mtls-credential }
  - port: { number: 443, name: https-missing, protocol: HTTPS }
    hosts: [missing.example.com]
    tls: { mode: SIMPLE, credentialName: no-such-credential }
  - port: { number: 443, name: tls-passthrough, protocol: TLS }
    hosts: ['*.passthrough.test']
    tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: ${GW_NS} }
spec:
  hosts: [httpbin.example.com, mtls.example.com, missing.example.com]
  gateways: [creds-gw]
  http: [{ route: [{ destination: { host: httpbin.default.svc.cluster.local, port: { number: 8000 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: passthrough, namespace: ${GW_NS} }
spec:
  hosts: ['*.passthrough.test']
  gateways: [creds-gw]
  tls:
  - match: [{ port: 443, sniHosts: [a.passthrough.test] }]
    route: [{ destination: { host: a.passthrough.test, port: { number: 9443 } } }]
  - match: [{ port: 443, sniHosts: [b.passthrough.test] }]
    route: [{ destination: { host: b.passthrough.test, port: { number: 9443 } } }]
`;

const serviceEntry = (host: string, port: number): string => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host.split('.')[0]}-backend, namespace: ${GW_NS} }
spec:
  hosts: [${host}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 9443, name: tls, protocol: TLS }]
  endpoints: [{ address: 127.0.0.1, ports: { tls: ${port} } }]
`;

let seedCertPaths: Record<string, string>;

before(async () => {
  [p80, p443] = [await freePort(), await freePort()];
  ca = await makeCa('Weft gateway test CA');
  mesh = await TestMesh.start({ mesh: { gatewayPortMap: { 80: p80, 443: p443 } }, log: (l: string) => {
    weftdLog.push(l);
    if (process.env.WEFT_TEST_LOG) process.stderr.write(`weftd: ${l}\n`);
  } });
  const [uk, httpbinCert, mtlsCert] = await Promise.all([
    issue(ca, 'uk.bookinfo.com', ['uk.bookinfo.com']), issue(ca, 'httpbin.example.com', ['httpbin.example.com']), issue(ca, 'mtls.example.com', ['mtls.example.com']),
  ]);
  seedCertPaths = writePems({ 'servercert.pem': uk.certPem, 'privatekey.pem': uk.keyPem, 'httpbin.crt': httpbinCert.certPem, 'httpbin.key': httpbinCert.keyPem,
    'mtls.crt': mtlsCert.certPem, 'mtls.key': mtlsCert.keyPem, 'ca.crt': ca.certPem });
  const [aPort, bPort] = await Promise.all([tlsBackend('a.passthrough.test'), tlsBackend('b.passthrough.test')]);
  // The seed's Gateway and VirtualService as they are; only the certificate files live in a temp dir here.
  const seedGw = readFileSync(join(SEEDS, '003-03-my-gateway.yaml'), 'utf8')
    .replace('/etc/certs/servercert.pem', seedCertPaths['servercert.pem']).replace('/etc/certs/privatekey.pem', seedCertPaths['privatekey.pem']);
  await mesh.apply(seedGw);
  await mesh.applyFile(join(SEEDS, '003-04-my-gateway-vs.yaml'));
  await mesh.apply(`${GATEWAYS()}---${serviceEntry('a.passthrough.test', aPort)}---${serviceEntry('b.passthrough.test', bPort)}`);
  const created = await Promise.all([
    weft(['create', 'secret', 'tls', 'httpbin-credential', '--cert', seedCertPaths['httpbin.crt'], '--key', seedCertPaths['httpbin.key'], '-n', GW_NS]),
    weft(['create', 'secret', 'generic', 'mtls-credential', `--from-file=tls.crt=${seedCertPaths['mtls.crt']}`, `--from-file=tls.key=${seedCertPaths['mtls.key']}`,
      `--from-file=ca.crt=${seedCertPaths['ca.crt']}`, '-n', GW_NS]),
  ]);
  for (const c of created) assert.equal(c.code, 0, c.err);
  [gateway, client] = await Promise.all([
    startGatewayProxy(mesh, 'my-gateway-controller', GW_NS, { app: 'my-gateway-controller' }),
    mesh.runClient('sleep'),
    mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000),
  ]);
});
after(async () => {
  for (const b of backends) b.close();
  await mesh?.stop();
});

test('seed 003 Gateway: httpsRedirect answers 301 to https; SIMPLE on 443 terminates with the serverCertificate files', async () => {
  await pollUntil('301 on port 80', async () => (await send({ host: '127.0.0.1', port: p80, path: '/reviews/1', headers: { host: 'uk.bookinfo.com' } })).status === 301, 15_000);
  const r = await send({ host: '127.0.0.1', port: p80, path: '/reviews/1?x=1', headers: { host: 'uk.bookinfo.com' } });
  assert.equal(r.headers.location, 'https://uk.bookinfo.com/reviews/1?x=1');
  const s = await httpsGet(p443, 'uk.bookinfo.com', '/nothing-here', { ca: ca.certPem });
  assert.match(s.peerCert?.subject ?? '', /CN=uk\.bookinfo\.com/);
  assert.equal(s.status, 404); // terminated and routed by the gateway: the seed's VirtualService only has /reviews
});

test('SIMPLE with credentialName from weft create secret tls: HTTPS to httpbin, X-Forwarded-Proto https; key never returned by the API', async () => {
  await pollUntil('https httpbin.example.com', async () => (await httpsGet(p443, 'httpbin.example.com', '/headers', { ca: ca.certPem }).catch(() => ({ status: 0 }))).status === 200, 20_000);
  const r = await httpsGet(p443, 'httpbin.example.com', '/headers', { ca: ca.certPem, headers: { 'x-forwarded-proto': 'http' } });
  assert.match(r.peerCert?.subject ?? '', /CN=httpbin\.example\.com/);
  const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
  assert.equal(h['X-Forwarded-Proto'], 'https', 'the gateway (use_remote_address) sets the scheme of its own downstream connection');
  assert.deepEqual(await h2Get(p443, 'httpbin.example.com', '/get', ca.certPem), { status: 200, alpn: 'h2' }, 'HTTP/2 by ALPN');
  // The gateway holds the credential as Istio names it (istioctl proxy-config secret), key redacted.
  const dump = await (await fetch(`http://${(await gateway.workload()).address}:15000/config_dump`)).text();
  assert.match(dump, /"name":\s*"kubernetes:\/\/httpbin-credential"/);
  assert.doesNotMatch(dump, /PRIVATE KEY/);
  const got = await weft(['get', 'secret', 'httpbin-credential', '-n', GW_NS, '-o', 'json']);
  assert.equal(got.code, 0, got.err);
  assert.doesNotMatch(got.out, /PRIVATE KEY|tls\.key": "[A-Za-z0-9+/]{20}/);
  assert.match(got.out, /"tls\.key": "\d+ bytes"/);
  assert.match(got.out, /CN=httpbin\.example\.com/);
  const list = await weft(['get', 'secrets', '-n', GW_NS]);
  assert.match(list.out, /httpbin-credential\s+kubernetes\.io\/tls\s+2/);
});

test('X-Forwarded-Proto: plaintext at the gateway overwrites a spoofed https; a mesh hop over mTLS stays http (as Istio)', async () => {
  await pollUntil('http httpbin.example.com', async () => (await send({ host: '127.0.0.1', port: p80, path: '/headers', headers: { host: 'httpbin.example.com' } })).status === 200, 15_000);
  const plain = await send({ host: '127.0.0.1', port: p80, path: '/headers', headers: { host: 'httpbin.example.com', 'x-forwarded-proto': 'https' } });
  assert.equal((JSON.parse(plain.body) as { headers: Record<string, string> }).headers['X-Forwarded-Proto'], 'http');
  const addr = (await client.workload()).address;
  const mesh1 = await send({ host: addr, port: 15001, path: 'http://httpbin:8000/headers' });
  const h = (JSON.parse(mesh1.body) as { headers: Record<string, string> }).headers;
  assert.ok(h['X-Forwarded-Client-Cert'], 'the hop is mTLS');
  assert.equal(h['X-Forwarded-Proto'], 'http');
});

test('MUTUAL: a client without a certificate is refused, one with a certificate from the CA in ca.crt is served', async () => {
  const good = await issue(ca, 'client', [], 'client');
  await pollUntil('mtls with client cert', async () => (await httpsGet(p443, 'mtls.example.com', '/get', { ca: ca.certPem, cert: good.certPem, key: good.keyPem }).catch(() => ({ status: 0 }))).status === 200, 15_000);
  // The gateway replaces a client's X-Forwarded-Client-Cert with its own view of the client
  // certificate (Istio's gateway default SANITIZE_SET): a forged entry never reaches the app.
  const forged = await httpsGet(p443, 'mtls.example.com', '/headers', { ca: ca.certPem, cert: good.certPem, key: good.keyPem,
    headers: { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/httpbin;URI=spiffe://cluster.local/ns/default/sa/admin' } });
  const xfcc = (JSON.parse(forged.body) as { headers: Record<string, string> }).headers['X-Forwarded-Client-Cert'] ?? '';
  const clientHash = createHash('sha256').update(new X509Certificate(good.certPem).raw).digest('hex');
  assert.ok(xfcc.startsWith(`Hash=${clientHash};Subject=`), xfcc);
  assert.doesNotMatch(xfcc, /sa\/admin/);
  await assert.rejects(httpsGet(p443, 'mtls.example.com', '/get', { ca: ca.certPem }), /certificate|socket hang up|ECONNRESET|alert/i);
  const other = await makeCa('someone else');
  const foreign = await issue(other, 'intruder', [], 'client');
  await assert.rejects(httpsGet(p443, 'mtls.example.com', '/get', { ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem }), /certificate|socket hang up|ECONNRESET|alert|unknown ca/i);
});

test('PASSTHROUGH: SNI picks the backend, TLS is not terminated at the gateway', async () => {
  await pollUntil('passthrough a', async () => (await tlsExchange(p443, 'a.passthrough.test', ca.certPem).catch(() => ({ data: '' }))).data.startsWith('backend a'), 15_000);
  const a = await tlsExchange(p443, 'a.passthrough.test', ca.certPem);
  const b = await tlsExchange(p443, 'b.passthrough.test', ca.certPem);
  assert.match(a.cert.subject, /CN=a\.passthrough\.test/);
  assert.equal(a.data, 'backend a.passthrough.test (sni a.passthrough.test)');
  assert.match(b.cert.subject, /CN=b\.passthrough\.test/);
  assert.equal(b.data, 'backend b.passthrough.test (sni b.passthrough.test)');
});

test('a missing credential: IST0161 at apply, that server not served, the others still are', async () => {
  const res = await mesh.client.apply([{ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'creds-gw-2', namespace: GW_NS },
    spec: { selector: { app: 'nobody' }, servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['x.example.com'], tls: { mode: 'SIMPLE', credentialName: 'absent' } }] } }], { dryRun: true });
  const w = res.warnings.find((d) => d.code === 'IST0161' && d.name === 'creds-gw-2');
  assert.ok(w, JSON.stringify(res.warnings));
  assert.match(w.message, /secret "absent" not found/);
  assert.match(String(w.path), /spec\.servers\[0\]\.tls\.credentialName/);
  await assert.rejects(tlsExchange(p443, 'missing.example.com', ca.certPem), /ECONNRESET|socket|disconnected|closed/i);
  assert.ok(weftdLog.some((l) => /server https-missing: tls\.credentialName no-such-credential: secret some-config-namespace\/no-such-credential not found.*not served/.test(l)), weftdLog.join('\n'));
  assert.equal((await httpsGet(p443, 'httpbin.example.com', '/get', { ca: ca.certPem })).status, 200);
});

test('rotation: replacing the secret changes the certificate for new handshakes without restarting the gateway', async () => {
  const before = (await peerCertificate(p443, 'httpbin.example.com', ca.certPem)).serialNumber;
  const next = await issue(ca, 'httpbin.example.com', ['httpbin.example.com']);
  const files = writePems({ 'new.crt': next.certPem, 'new.key': next.keyPem });
  assert.equal((await weft(['delete', 'secret', 'httpbin-credential', '-n', GW_NS])).code, 0);
  const c = await weft(['create', 'secret', 'tls', 'httpbin-credential', '--cert', files['new.crt'], '--key', files['new.key'], '-n', GW_NS]);
  assert.equal(c.code, 0, c.err);
  await pollUntil('new certificate served', async () => (await peerCertificate(p443, 'httpbin.example.com', ca.certPem)).serialNumber !== before, 15_000);
  const r = await httpsGet(p443, 'httpbin.example.com', '/get', { ca: ca.certPem });
  assert.equal(r.status, 200);
  assert.notEqual(r.peerCert?.serialNumber, before);
  assert.equal(gateway.child.exitCode, null, 'the gateway kept running');
});

test('weft create secret refuses a key that is not the certificate\'s, naming the file', async () => {
  const a = await issue(ca, 'a', ['a']);
  const b = await issue(ca, 'b', ['b']);
  const files = writePems({ 'a.crt': a.certPem, 'b.key': b.keyPem });
  const r = await weft(['create', 'secret', 'tls', 'bad', '--cert', files['a.crt'], '--key', files['b.key'], '-n', GW_NS]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /b\.key \(tls\.key\) does not match the certificate/);
});
