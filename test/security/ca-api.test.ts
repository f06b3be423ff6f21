// weftd's CA over its API: join tokens (admin only), CSRs checked against the token's identity,
// replayed and expired tokens refused, rotation with the current certificate, config API guarded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestWeftd } from '../helpers/weftd.js';
import { makeCsr, rotationProof } from '../../src/security/workload-cert.js';

let weftd: Awaited<ReturnType<typeof startTestWeftd>>;
const lines: string[] = [];
before(async () => { weftd = await startTestWeftd({ adminToken: undefined, log: (l) => lines.push(l) }); });
after(async () => { await weftd?.cleanup(); });

const P = '/apis/weft.dev/v1';
async function call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(weftd.apiUrl + path, { method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  return { status: res.status, json: await res.json() as Record<string, string> };
}
const joinToken = async (sa: string, ttlSeconds?: number) => (await call('POST', `${P}/namespaces/default/jointokens`, { serviceAccount: sa, ttlSeconds }, weftd.adminToken)).json;
const csrFor = async (sa: string) => makeCsr('cluster.local', 'default', sa);
const sign = (csr: string, sa: string, token?: string, extra: object = {}) => call('POST', `${P}/namespaces/default/certificatesigningrequests`, { serviceAccount: sa, csr, ...extra }, token);

test('the admin token lives in the data dir (0600) and guards the config API; the trust bundle is open', async () => {
  assert.equal(statSync(join(weftd.dataDir, 'admin-token')).mode & 0o777, 0o600);
  assert.equal((await call('GET', `${P}/workloads`)).status, 401);
  assert.equal((await call('GET', `${P}/workloads`, undefined, 'wrong')).status, 401);
  assert.equal((await call('GET', `${P}/workloads`, undefined, weftd.adminToken)).status, 200);
  assert.equal((await call('POST', `${P}/namespaces/default/jointokens`, { serviceAccount: 'x' })).status, 401, 'join tokens are for the admin');
  const tb = await call('GET', `${P}/trustbundle`);
  assert.equal(tb.status, 200);
  assert.match(tb.json.rootCert, /BEGIN CERTIFICATE/);
});

test('a join token buys one certificate for its own service account; other SAs, replays and expired tokens are refused', async () => {
  const t = await joinToken('sleep');
  const other = await csrFor('admin');
  const refusedOther = await sign(other.csrPem, 'admin', t.token);
  assert.equal(refusedOther.status, 403);
  assert.match(refusedOther.json.message, /credential is for default\/sleep/);
  // Asking as the token's SA while the CSR carries another identity is refused by the CA check.
  const sneaky = await sign(other.csrPem, 'sleep', (await joinToken('sleep')).token);
  assert.equal(sneaky.status, 403);
  assert.match(sneaky.json.message, /csr asks for spiffe:\/\/cluster\.local\/ns\/default\/sa\/admin/);

  const good = await csrFor('sleep');
  const t2 = await joinToken('sleep');
  const ok = await sign(good.csrPem, 'sleep', t2.token);
  assert.equal(ok.status, 201, ok.json.message);
  assert.equal(new X509Certificate(ok.json.certChainPem).subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/sleep');
  const replay = await sign((await csrFor('sleep')).csrPem, 'sleep', t2.token);
  assert.equal(replay.status, 403);
  assert.match(replay.json.message, /replayed/);

  const short = await joinToken('sleep', 1);
  const expiresAt = Date.parse(short.expiresAt);
  while (Date.now() <= expiresAt + 50) await new Promise((r) => setTimeout(r, 100));
  const expired = await sign((await csrFor('sleep')).csrPem, 'sleep', short.token);
  assert.equal(expired.status, 403);
  assert.match(expired.json.message, /expired/);
  assert.equal((await sign((await csrFor('sleep')).csrPem, 'sleep')).status, 401, 'no credential at all');
  assert.ok(lines.some((l) => /ca: refused certificate request for default\/sleep .*replayed/.test(l)), 'refusals are logged with the reason');

  // Rotation: the current certificate (and its key) is the proof; no token needed.
  const next = await csrFor('sleep');
  const current = { ...ok.json, keyPem: good.keyPem } as never;
  const rotated = await sign(next.csrPem, 'sleep', undefined, { proof: rotationProof(current, next.csrPem) });
  assert.equal(rotated.status, 201, rotated.json.message);
  assert.notEqual(rotated.json.serial, ok.json.serial);
  // The proof does not stretch to another service account.
  const elsewhere = await csrFor('admin');
  const bad = await sign(elsewhere.csrPem, 'admin', undefined, { proof: rotationProof(current, elsewhere.csrPem) });
  assert.equal(bad.status, 403);
});
