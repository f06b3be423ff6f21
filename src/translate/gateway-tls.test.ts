import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText } from '../config/index.js';
import { createSnapshot } from '../registry/index.js';
import { TYPE } from '../xds/protos.js';
import { SnapshotSource } from '../weftd/xds-source.js';
import { translate, type ProxyInfo } from './index.js';
import type { Workload } from '../model/index.js';
import { x509 } from '../security/pem.js';

type Obj = Record<string, unknown>;

async function selfSigned(cn: string): Promise<{ cert: string; key: string }> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const c = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: `CN=${cn}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000), extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { cert: c.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function snapshot() {
  const a = await selfSigned('a.example.com');
  const yaml = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [a.example.com]
    tls: { httpsRedirect: true }
  - port: { number: 443, name: https-a, protocol: HTTPS }
    hosts: [a.example.com]
    tls: { mode: SIMPLE, credentialName: a-cred, minProtocolVersion: TLSV1_3, cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256] }
  - port: { number: 443, name: https-m, protocol: HTTPS }
    hosts: [m.example.com]
    tls: { mode: MUTUAL, credentialName: m-cred }
  - port: { number: 443, name: https-missing, protocol: HTTPS }
    hosts: [x.example.com]
    tls: { mode: SIMPLE, credentialName: elsewhere }
  - port: { number: 443, name: tls, protocol: TLS }
    hosts: ['*.pass.test']
    tls: { mode: PASSTHROUGH }
  - port: { number: 9443, name: https-mesh, protocol: HTTPS }
    hosts: ['*']
    tls: { mode: ISTIO_MUTUAL }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [a.example.com, m.example.com, x.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: web.default.svc.cluster.local, port: { number: 80 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: pass, namespace: default }
spec:
  hosts: ['*.pass.test']
  gateways: [gw]
  tls: [{ match: [{ port: 443, sniHosts: [one.pass.test] }], route: [{ destination: { host: web.default.svc.cluster.local, port: { number: 443 } } }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }, { name: tls, port: 443 }] }
---
apiVersion: v1
kind: Secret
metadata: { name: a-cred, namespace: istio-system }
type: kubernetes.io/tls
data: { tls.crt: ${b64(a.cert)}, tls.key: ${b64(a.key)} }
---
apiVersion: v1
kind: Secret
metadata: { name: m-cred, namespace: istio-system }
type: kubernetes.io/tls
data: { tls.crt: ${b64(a.cert)}, tls.key: ${b64(a.key)} }
---
apiVersion: v1
kind: Secret
metadata: { name: m-cred-cacert, namespace: istio-system }
data: { cacert: ${b64(a.cert)} }
---
apiVersion: v1
kind: Secret
metadata: { name: elsewhere, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: ${b64(a.cert)}, tls.key: ${b64(a.key)} }
`;
  const r = parseText(yaml, 'gw.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  const gwWorkload: Workload = { name: 'istio-ingressgateway', namespace: 'istio-system', address: '127.0.0.9', labels: { istio: 'ingressgateway' }, serviceAccount: 'gw', ports: {}, ready: true };
  return createSnapshot('1', r.documents.map((d) => d.resource), [gwWorkload]);
}

const gatewayProxy: ProxyInfo = { id: 'router~127.0.0.9~istio-ingressgateway.istio-system~istio-system.svc.cluster.local', kind: 'gateway', name: 'istio-ingressgateway',
  namespace: 'istio-system', labels: { istio: 'ingressgateway' }, address: '127.0.0.9', serviceAccount: 'gw' };

void test('gateway TLS: one chain per server by server_names, SDS kubernetes:// secrets, passthrough by sniHosts, 301 redirect route', async () => {
  const out = translate(await snapshot(), gatewayProxy);
  const l443 = out.listeners.get('0.0.0.0_443') as Obj;
  const chains = l443.filter_chains as Obj[];
  const names = chains.map((c) => ((c.filter_chain_match as Obj).server_names as string[]).join(','));
  assert.deepEqual(names, ['a.example.com', 'm.example.com', 'one.pass.test'], 'x.example.com (secret in another namespace) is not served');
  const ctx = (i: number): Obj => ((chains[i].transport_socket as Obj).typed_config as Obj);
  const common = ctx(0).common_tls_context as Obj;
  assert.deepEqual((common.tls_certificate_sds_secret_configs as Obj[]).map((s) => s.name), ['kubernetes://a-cred']);
  assert.deepEqual(common.tls_params, { tls_minimum_protocol_version: 'TLSv1_3', cipher_suites: ['ECDHE-ECDSA-AES128-GCM-SHA256'] });
  assert.deepEqual(ctx(1).require_client_certificate, { value: true });
  assert.equal(((ctx(1).common_tls_context as Obj).combined_validation_context as { validation_context_sds_secret_config: Obj }).validation_context_sds_secret_config.name, 'kubernetes://m-cred-cacert');
  assert.equal(chains[2].transport_socket, undefined, 'passthrough is not terminated');
  assert.equal((((chains[2].filters as Obj[])[0].typed_config as Obj).cluster), 'outbound|443||web.default.svc.cluster.local');
  assert.deepEqual([...(out.secrets?.keys() ?? [])].sort(), ['kubernetes://a-cred', 'kubernetes://m-cred', 'kubernetes://m-cred-cacert']);
  assert.ok(out.routes.has('https.443.https-a.gw.default'));
  // ISTIO_MUTUAL: the gateway's own workload certificate and the mesh root (agent-local SDS), client certificate required.
  const mesh = ((out.listeners.get('0.0.0.0_9443') as Obj).filter_chains as Obj[])[0];
  const mt = (mesh.transport_socket as Obj).typed_config as Obj;
  assert.deepEqual(mt.require_client_certificate, { value: true });
  assert.deepEqual(((mt.common_tls_context as Obj).tls_certificate_sds_secret_configs as Obj[]).map((x) => x.name), ['default']);
  assert.equal((mesh.filter_chain_match as Obj).server_names, undefined);
  const http80 = out.routes.get('http.80') as { virtual_hosts: Obj[] };
  assert.equal(http80.virtual_hosts[0].require_tls, 'ALL');
  assert.deepEqual((http80.virtual_hosts[0].routes as Obj[])[0].redirect, { https_redirect: true, response_code: 'MOVED_PERMANENTLY' });
});

void test('secrets go over ADS to the registered gateway only: a sidecar (or an unregistered "router") gets none', async () => {
  const snap = await snapshot();
  const src = new SnapshotSource(snap, (ns, name) => snap.workloads.find((w) => w.namespace === ns && w.name === name));
  const node = (id: string, ns: string, name: string) => ({ id, cluster: '', metadata: { NAMESPACE: ns, WORKLOAD_NAME: name, LABELS: { istio: 'ingressgateway' } }, locality: {}, userAgent: 'test' });
  assert.equal(src.resources(node(gatewayProxy.id, 'istio-system', 'istio-ingressgateway') as never, TYPE.secret, ['kubernetes://a-cred']).size, 1);
  assert.equal(src.resources(node('sidecar~127.0.0.5~app.istio-system~istio-system.svc.cluster.local', 'istio-system', 'app') as never, TYPE.secret, ['kubernetes://a-cred']).size, 0);
  assert.equal(src.resources(node('router~127.0.0.6~impostor.istio-system~istio-system.svc.cluster.local', 'istio-system', 'impostor') as never, TYPE.secret, ['kubernetes://a-cred']).size, 0);
});
