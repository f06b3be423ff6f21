// Test PKI for gateway TLS: a CA, server certificates for DNS names, client certificates (ECDSA P-256).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';
import { x509, generateKeyPair, privateKeyPem } from '../../src/security/pem.js';

export interface TestCa { certPem: string; key: webcrypto.CryptoKey; cert: x509.X509Certificate }
export interface TestCert { certPem: string; keyPem: string }

let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(2, '0');
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function makeCa(cn: string): Promise<TestCa> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${nextSerial()}`, name: `CN=${cn}`, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    keys, signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)],
  });
  return { certPem: cert.toString('pem'), key: keys.privateKey, cert };
}

export async function issue(ca: TestCa, cn: string, dnsNames: string[], usage: 'server' | 'client' = 'server'): Promise<TestCert> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `02${nextSerial()}`, subject: `CN=${cn}`, issuer: ca.cert.subject, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    publicKey: keys.publicKey, signingKey: ca.key, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ...(dnsNames.length ? [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value })))] : []),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** Writes PEMs to a fresh temp dir; returns their paths by the given names. */
export function writePems(files: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-gw-tls-'));
  const out: Record<string, string> = {};
  for (const [name, pem] of Object.entries(files)) writeFileSync((out[name] = join(dir, name)), pem, { mode: 0o600 });
  return out;
}
