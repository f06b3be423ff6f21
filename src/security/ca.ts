// Weft's certificate authority (Istio's Citadel) inside weftd: a self-signed root kept in the data
// dir (key mode 0600), or the user's root/intermediate. Signs workload CSRs with one SPIFFE URI SAN;
// the workload's private key never comes here (the proxy agent makes it and sends a PKCS#10 CSR).
import { X509Certificate, createPublicKey, randomBytes, verify as verifySig, type webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EC_P256, generateKeyPair, importSigningKey, privateKeyPem, splitPemCerts, x509 } from './pem.js';
import { DEFAULT_TRUST_DOMAIN, parseSpiffe, spiffeUri, uriSans, type SpiffeId } from './spiffe.js';

export const DEFAULT_WORKLOAD_CERT_TTL_MS = 24 * 3600_000;

export interface CaOptions {
  /** Where the self-signed root is kept (`<dataDir>/ca/`); omitted = a fresh root in memory. */
  dataDir?: string;
  /** The user's CA certificate and key (PEM text), e.g. an intermediate; chain = its issuers up to the root. */
  caCertPem?: string;
  caKeyPem?: string;
  caChainPem?: string;
  trustDomain?: string;
  workloadCertTtlMs?: number;
  clock?: () => number;
}

export interface IssuedCert {
  /** Leaf first, then the CA certificate and its issuers (without the root when it is self-signed). */
  certChainPem: string;
  /** Trust bundle: the root certificate(s). */
  rootPem: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  spiffe: string;
}

/** A request refused for a reason the caller may see (mapped to 403/400 by the API). */
export class CaRefusal extends Error {
  constructor(readonly status: 400 | 403, message: string) { super(message); }
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive
  return b.toString('hex');
}

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly workloadCertTtlMs: number;
  private readonly caX509: X509Certificate;

  private constructor(
    private readonly caCert: x509.X509Certificate,
    private readonly signingKey: webcrypto.CryptoKey,
    private readonly alg: webcrypto.Algorithm,
    /** Issuers above the CA cert (PEM), excluding a self-signed root. */
    private readonly intermediatesPem: string,
    readonly rootPem: string,
    opts: CaOptions,
    private readonly clock: () => number,
  ) {
    this.trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.workloadCertTtlMs = opts.workloadCertTtlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS;
    this.caX509 = new X509Certificate(caCert.toString('pem'));
  }

  static async open(opts: CaOptions = {}): Promise<CertificateAuthority> {
    const clock = opts.clock ?? Date.now;
    if (opts.caCertPem || opts.caKeyPem) {
      if (!opts.caCertPem || !opts.caKeyPem) throw new Error('CA: --ca-cert and --ca-key go together');
      const [first] = splitPemCerts(opts.caCertPem);
      if (!first) throw new Error('CA: --ca-cert holds no PEM certificate');
      const cert = new x509.X509Certificate(first);
      const { key, alg } = await importSigningKey(opts.caKeyPem, 'CA: --ca-key');
      const chain = splitPemCerts(opts.caChainPem ?? '');
      const selfSigned = cert.subject === cert.issuer;
      const root = selfSigned ? first : chain[chain.length - 1];
      if (!root) throw new Error('CA: an intermediate CA certificate needs --ca-chain up to the root');
      const intermediates = selfSigned ? '' : chain.slice(0, -1).join('');
      return new CertificateAuthority(cert, key, alg, intermediates, root, opts, clock);
    }
    const dir = opts.dataDir ? join(opts.dataDir, 'ca') : undefined;
    const certFile = dir && join(dir, 'root-cert.pem');
    const keyFile = dir && join(dir, 'root-key.pem');
    if (certFile && keyFile && existsSync(certFile) && existsSync(keyFile)) {
      const pem = readFileSync(certFile, 'utf8');
      const { key } = await importSigningKey(readFileSync(keyFile, 'utf8'), `CA: ${keyFile}`);
      return new CertificateAuthority(new x509.X509Certificate(pem), key, EC_P256, '', pem, opts, clock);
    }
    const keys = await generateKeyPair();
    const now = clock();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(), name: `O=${opts.trustDomain ?? DEFAULT_TRUST_DOMAIN}, CN=Weft root CA`,
      notBefore: new Date(now - 60_000), notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
      signingAlgorithm: EC_P256, keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pem = cert.toString('pem') + '\n';
    if (dir && certFile && keyFile) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(keyFile, await privateKeyPem(keys.privateKey), { mode: 0o600 });
      chmodSync(keyFile, 0o600);
      writeFileSync(certFile, pem);
    }
    return new CertificateAuthority(cert, keys.privateKey, EC_P256, '', pem, opts, clock);
  }

  /** Issues a certificate for the public key of a verified CSR; its only identity is `expected`. */
  async signCsr(csrPem: string, expected: { namespace: string; serviceAccount: string }, ttlMs?: number): Promise<IssuedCert> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      throw new CaRefusal(400, `csr is not a PEM PKCS#10 certificate request: ${(e as Error).message}`);
    }
    if (!(await csr.verify())) throw new CaRefusal(400, 'csr signature does not verify (the requester must hold the key)');
    const want = spiffeUri(this.trustDomain, expected.namespace, expected.serviceAccount);
    const sans = csrUris(csr);
    if (sans.length !== 1 || sans[0] !== want) {
      throw new CaRefusal(403, `csr asks for ${sans.join(', ') || 'no SPIFFE identity'}, but the credential allows only ${want}`);
    }
    const alg = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new CaRefusal(400, `csr key must be ECDSA P-256, got ${alg.name} ${alg.namedCurve ?? ''}`);
    const now = this.clock();
    const ttl = Math.min(ttlMs ?? this.workloadCertTtlMs, this.workloadCertTtlMs);
    const notAfterMs = Math.min(now + ttl, Date.parse(this.caX509.validTo));
    const publicKey = await csr.publicKey.export();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(), subject: '', issuer: this.caCert.subject,
      notBefore: new Date(now - 5_000), notAfter: new Date(notAfterMs),
      signingAlgorithm: this.alg, publicKey, signingKey: this.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(this.caCert, false),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: want }], true),
      ],
    });
    const caPart = this.caCert.subject === this.caCert.issuer ? '' : this.caCert.toString('pem') + '\n' + this.intermediatesPem;
    return {
      certChainPem: cert.toString('pem') + '\n' + caPart, rootPem: this.rootPem, serial: cert.serialNumber,
      notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), spiffe: want,
    };
  }

  /** Issues weftd's own serving certificate (xDS over TLS): the key is made here, for weftd itself. */
  async issueServerCert(dnsNames: string[], ips: string[], ttlMs = 365 * 24 * 3600_000): Promise<{ certChainPem: string; keyPem: string }> {
    const keys = await generateKeyPair();
    const now = this.clock();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(), subject: 'CN=weftd', issuer: this.caCert.subject,
      notBefore: new Date(now - 5_000), notAfter: new Date(Math.min(now + ttlMs, Date.parse(this.caX509.validTo))),
      signingAlgorithm: this.alg, publicKey: keys.publicKey, signingKey: this.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]),
      ],
    });
    const caPart = this.caCert.subject === this.caCert.issuer ? '' : this.caCert.toString('pem') + '\n' + this.intermediatesPem;
    return { certChainPem: cert.toString('pem') + '\n' + caPart, keyPem: await privateKeyPem(keys.privateKey) };
  }

  /**
   * Rotation proof: the caller's current certificate (issued here, unexpired) and a signature made
   * with its key over `weft-csr-rotation\n<timestamp ms>\n<csr PEM>`. Returns the proven identity.
   */
  verifyRotationProof(p: { certChainPem: string; timestamp: number; signature: string }, csrPem: string): SpiffeId {
    const [leafPem] = splitPemCerts(p.certChainPem);
    if (!leafPem) throw new CaRefusal(403, 'rotation proof: no certificate');
    const leaf = new X509Certificate(leafPem);
    if (!leaf.verify(this.caX509.publicKey)) throw new CaRefusal(403, 'rotation proof: certificate not issued by this CA');
    const now = this.clock();
    if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) throw new CaRefusal(403, 'rotation proof: certificate expired or not yet valid');
    if (!Number.isFinite(p.timestamp) || Math.abs(now - p.timestamp) > 5 * 60_000) throw new CaRefusal(403, 'rotation proof: timestamp outside ±5 min');
    const data = Buffer.from(`weft-csr-rotation\n${p.timestamp}\n${csrPem}`);
    let ok = false;
    try {
      ok = verifySig('sha256', data, createPublicKey(leaf.publicKey.export({ type: 'spki', format: 'pem' })), Buffer.from(p.signature, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) throw new CaRefusal(403, 'rotation proof: signature does not verify with the certificate key');
    const id = uriSans(leaf.subjectAltName).map(parseSpiffe).find((x) => x !== undefined);
    if (!id || id.trustDomain !== this.trustDomain) throw new CaRefusal(403, 'rotation proof: certificate has no SPIFFE identity of this trust domain');
    return id;
  }
}

function csrUris(csr: x509.Pkcs10CertificateRequest): string[] {
  const ext = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  return ext ? ext.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
}
