import test from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaRefusal, CertificateAuthority } from './ca.js';
import { JoinTokens, TokenRefusal } from './tokens.js';
import { makeCsr, rotationProof } from './workload-cert.js';

void test('CA issues an ECDSA P-256 SPIFFE certificate from a CSR, root persisted with key mode 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ca-'));
  try {
    const ca = await CertificateAuthority.open({ dataDir: dir, workloadCertTtlMs: 3600_000 });
    assert.equal(statSync(join(dir, 'ca', 'root-key.pem')).mode & 0o777, 0o600);
    const { csrPem } = await makeCsr('cluster.local', 'default', 'sleep');
    const issued = await ca.signCsr(csrPem, { namespace: 'default', serviceAccount: 'sleep' });
    const leaf = new X509Certificate(issued.certChainPem);
    const root = new X509Certificate(issued.rootPem);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/sleep');
    assert.ok(leaf.verify(root.publicKey));
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const life = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.ok(life > 3590_000 && life < 3700_000, `lifetime ${life}`);
    // The same root comes back after a restart.
    const again = await CertificateAuthority.open({ dataDir: dir });
    assert.equal(again.rootPem, ca.rootPem);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('CA refuses a CSR for another service account, and a CSR whose signature is broken', async () => {
  const ca = await CertificateAuthority.open();
  const { csrPem } = await makeCsr('cluster.local', 'default', 'admin');
  await assert.rejects(ca.signCsr(csrPem, { namespace: 'default', serviceAccount: 'sleep' }), (e: unknown) => e instanceof CaRefusal && e.status === 403 && /sa\/admin/.test(e.message));
  await assert.rejects(ca.signCsr('garbage', { namespace: 'default', serviceAccount: 'sleep' }), (e: unknown) => e instanceof CaRefusal && e.status === 400);
});

void test('join tokens are single use and expire', () => {
  let now = 1_000_000;
  const t = new JoinTokens(() => now);
  const a = t.issue('default', 'sleep', 1000);
  assert.deepEqual(t.consume(a.token), { namespace: 'default', serviceAccount: 'sleep' });
  assert.throws(() => t.consume(a.token), (e: unknown) => e instanceof TokenRefusal && /replayed/.test(e.message));
  const b = t.issue('default', 'sleep', 1000);
  now += 2000;
  assert.throws(() => t.consume(b.token), (e: unknown) => e instanceof TokenRefusal && /expired/.test(e.message));
  assert.throws(() => t.consume('wjt.forged'), (e: unknown) => e instanceof TokenRefusal && /unknown/.test(e.message));
});

void test('rotation proof: accepted from the holder of a current cert, refused from another CA or when expired', async () => {
  let now = Date.now();
  const ca = await CertificateAuthority.open({ clock: () => now, workloadCertTtlMs: 60_000 });
  const other = await CertificateAuthority.open();
  const first = await makeCsr('cluster.local', 'ns1', 'web');
  const cert = await ca.signCsr(first.csrPem, { namespace: 'ns1', serviceAccount: 'web' });
  const current = { ...cert, keyPem: first.keyPem };
  const next = await makeCsr('cluster.local', 'ns1', 'web');
  assert.deepEqual(ca.verifyRotationProof(rotationProof(current, next.csrPem, now), next.csrPem), { trustDomain: 'cluster.local', namespace: 'ns1', serviceAccount: 'web' });
  // A proof over a different CSR does not verify.
  assert.throws(() => ca.verifyRotationProof(rotationProof(current, next.csrPem, now), first.csrPem), /signature/);
  const foreign = await other.signCsr(first.csrPem, { namespace: 'ns1', serviceAccount: 'web' });
  assert.throws(() => ca.verifyRotationProof(rotationProof({ ...foreign, keyPem: first.keyPem }, next.csrPem, now), next.csrPem), /not issued by this CA/);
  now += 120_000;
  assert.throws(() => ca.verifyRotationProof(rotationProof(current, next.csrPem, now), next.csrPem), /expired/);
});
