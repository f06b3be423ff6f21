// Secrets through validation and the config API (real HTTP server, real validator): Kubernetes'
// shapes accepted, bad input refused naming the field (and its line), data never returned.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { analyze, parseText, validateResource } from '../../src/config/index.js';
import { makeCa, issue, type TestCert } from './certs.js';

let store: MemoryStore;
let api: ApiServer;
let good: TestCert;
let other: TestCert;
let caPem = '';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

before(async () => {
  store = new MemoryStore();
  api = await startApiServer({ store, validate: (o) => validateResource(o), analyze });
  const ca = await makeCa('api test CA');
  caPem = ca.certPem;
  [good, other] = await Promise.all([issue(ca, 'good.example.com', ['good.example.com']), issue(ca, 'other', ['other'])]);
});
after(async () => {
  await api.close();
  await store.close();
});

const secretYaml = (data: Record<string, string>, type = 'kubernetes.io/tls'): string =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: cred\n  namespace: istio-system\ntype: ${type}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const r = await fetch(`${api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
}

void test('a kubernetes.io/tls Secret validates and is stored as spec {type, data}; stringData is accepted too', () => {
  const r = parseText(secretYaml({ 'tls.crt': b64(good.certPem), 'tls.key': b64(good.keyPem) }), 'cred.yaml');
  assert.deepEqual(r.diagnostics, []);
  const res = r.documents[0].resource as unknown as { spec: { type: string; data: Record<string, string> } };
  assert.equal(res.spec.type, 'kubernetes.io/tls');
  assert.equal(Buffer.from(res.spec.data['tls.key'], 'base64').toString(), good.keyPem);
  const s = parseText(`apiVersion: v1\nkind: Secret\nmetadata: { name: c }\nstringData:\n  cacert: |\n${caPem.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`, 's.yaml');
  assert.deepEqual(s.diagnostics, []);
});

void test('bad Secrets are refused naming the field and its position', () => {
  const mismatch = parseText(secretYaml({ 'tls.crt': b64(good.certPem), 'tls.key': b64(other.keyPem) }), 'bad.yaml');
  const e = mismatch.diagnostics.find((d) => d.severity === 'error');
  assert.ok(e, 'mismatched pair refused');
  assert.match(e.message, /tls\.key does not match the certificate/);
  assert.equal(e.path, 'data["tls.key"]');
  assert.equal(e.line, 9); // the tls.key line
  const notB64 = parseText(secretYaml({ 'tls.crt': '"not base64!"', 'tls.key': b64(good.keyPem) }), 'b.yaml').diagnostics.find((d) => d.severity === 'error');
  assert.match(notB64?.message ?? '', /not valid base64/);
  const noKey = parseText(secretYaml({ 'tls.crt': b64(good.certPem) }), 'c.yaml').diagnostics.find((d) => d.severity === 'error');
  assert.match(noKey?.message ?? '', /needs data\["tls\.key"\]/);
  const garbage = parseText(secretYaml({ 'tls.crt': b64('hello'), 'tls.key': b64(good.keyPem) }), 'd.yaml').diagnostics.find((d) => d.severity === 'error');
  assert.match(garbage?.message ?? '', /tls\.crt holds no PEM certificate/);
  const unknown = parseText('apiVersion: v1\nkind: Secret\nmetadata: { name: x }\ndatta: {}\n', 'e.yaml').diagnostics.find((d) => d.severity === 'error');
  assert.match(unknown?.message ?? '', /unknown field "datta".*data/);
});

void test('the API stores a Secret but never returns its data: create, get, list and apply show key sizes and certificate details', async () => {
  const body = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cred', namespace: 'istio-system' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(good.certPem), 'tls.key': b64(good.keyPem), 'ca.crt': b64(caPem) } };
  const created = await call('POST', '/api/v1/namespaces/istio-system/secrets', body);
  assert.equal(created.status, 201, created.text);
  const got = await call('GET', '/api/v1/namespaces/istio-system/secrets/cred');
  const listed = await call('GET', '/api/v1/secrets');
  const applied = await call('POST', '/apis/weft.dev/v1/apply', { items: [{ ...body, metadata: { name: 'cred2', namespace: 'istio-system' } }] });
  assert.equal(applied.status, 200, applied.text);
  for (const t of [created.text, got.text, listed.text, applied.text]) {
    assert.doesNotMatch(t, /PRIVATE KEY|BEGIN CERTIFICATE/);
    assert.ok(!t.includes(b64(good.keyPem).slice(0, 40)), 'no base64 key material');
  }
  const view = JSON.parse(got.text) as { type: string; keys: Record<string, string>; certificates: { subject: string; subjectAltNames: string }[] };
  assert.equal(view.type, 'kubernetes.io/tls');
  assert.match(view.keys['tls.key'], /^\d+ bytes$/);
  assert.equal(view.certificates[0].subjectAltNames, 'DNS:good.example.com');
  // ...while the store holds the material translation needs.
  const stored = await store.get({ kind: 'Secret', namespace: 'istio-system', name: 'cred' }) as unknown as { spec: { data: Record<string, string> } };
  assert.equal(Buffer.from(stored.spec.data['tls.key'], 'base64').toString(), good.keyPem);
  const bad = await call('POST', '/api/v1/namespaces/istio-system/secrets', { ...body, metadata: { name: 'bad' }, data: { 'tls.crt': b64(good.certPem), 'tls.key': b64(other.keyPem) } });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /tls\.key does not match the certificate/);
  assert.ok(!bad.text.includes(b64(other.keyPem).slice(0, 40)));
});

void test('IST0161: a Gateway naming a missing credential (or MUTUAL without a CA) is reported at its field', () => {
  const gw = (mode: string, cred: string): string => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: gw, namespace: istio-system }\nspec:\n  selector: { istio: ingressgateway }\n  servers:\n  - port: { number: 443, name: https, protocol: HTTPS }\n    hosts: [a.example.com]\n    tls: { mode: ${mode}, credentialName: ${cred} }\n`;
  const sec = secretYaml({ 'tls.crt': b64(good.certPem), 'tls.key': b64(good.keyPem) });
  const docs = (y: string) => parseText(y, 'x.yaml').documents.map((d) => d.resource);
  const missing = analyze(docs(gw('SIMPLE', 'nope'))).find((d) => d.code === 'IST0161');
  assert.match(missing?.message ?? '', /secret "nope" not found/);
  assert.equal(missing?.path, 'spec.servers[0].tls.credentialName');
  assert.equal(analyze(docs(`${gw('SIMPLE', 'cred')}---\n${sec}`)).filter((d) => d.code === 'IST0161').length, 0);
  assert.match(analyze(docs(`${gw('MUTUAL', 'cred')}---\n${sec}`)).find((d) => d.code === 'IST0161')?.message ?? '', /MUTUAL TLS needs a CA/);
});
