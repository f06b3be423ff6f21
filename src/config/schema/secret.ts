// core v1 Secret: Kubernetes keeps `type`, `data` (base64) and `stringData` at the top level, not
// under `spec`. Gateway credentials (`credentialName`) are `kubernetes.io/tls` secrets (tls.crt,
// tls.key, optional ca.crt) or Opaque ones with the same keys (`kubectl create secret generic
// --from-file=tls.crt=...`), or `cert`/`key`/`cacert` as Istio also accepts. The certificate and key
// are checked here, so a bad pair is refused when it is written, naming the field.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import type { SecretSpec } from '../../model/index.js';
import { splitPemCerts } from '../../security/pem-text.js';
import type { PathSeg } from '../diagnostics.js';
import { type Ctx, type Obj, describe, isObj } from './dsl.js';

export const SECRET_TOP_LEVEL = ['type', 'data', 'stringData', 'immutable'];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const KEY_NAME = /^[-._a-zA-Z0-9]+$/;

/** The certificate, key and CA PEMs of a TLS secret, by Istio's key names (tls.* first, then cert/key/cacert). */
export interface TlsSecretMaterial { cert?: string; key?: string; ca?: string; certKey: string; keyKey: string; caKey: string }

export function tlsMaterial(data: Readonly<Record<string, string>>): TlsSecretMaterial {
  const dec = (k: string): string | undefined => (data[k] === undefined ? undefined : Buffer.from(data[k], 'base64').toString('utf8'));
  const certKey = data['tls.crt'] !== undefined ? 'tls.crt' : data.cert !== undefined ? 'cert' : 'tls.crt';
  const keyKey = data['tls.key'] !== undefined ? 'tls.key' : data.key !== undefined ? 'key' : 'tls.key';
  const caKey = data['ca.crt'] !== undefined ? 'ca.crt' : data.cacert !== undefined ? 'cacert' : 'ca.crt';
  return { cert: dec(certKey), key: dec(keyKey), ca: dec(caKey), certKey, keyKey, caKey };
}

/** What the API shows of a certificate (never the key). */
export interface CertificateInfo { subject: string; issuer: string; subjectAltNames: string; serialNumber: string; notBefore: string; notAfter: string }

export function certificateInfo(pem: string): CertificateInfo[] {
  return splitPemCerts(pem).map((p) => {
    const c = new X509Certificate(p);
    return {
      subject: c.subject.replace(/\n/g, ', '), issuer: c.issuer.replace(/\n/g, ', '), subjectAltNames: c.subjectAltName ?? '',
      serialNumber: c.serialNumber.toLowerCase(), notBefore: new Date(c.validFrom).toISOString(), notAfter: new Date(c.validTo).toISOString(),
    };
  });
}

/**
 * Why a certificate chain / private key / CA bundle is unusable (undefined = usable). Checks that
 * the PEMs parse, that the key is the certificate's, and that Node can build a TLS context from them.
 */
export function tlsPairProblem(m: { cert?: string; key?: string; ca?: string }): { field: 'cert' | 'key' | 'ca'; message: string } | undefined {
  if (m.cert !== undefined) {
    const certs = splitPemCerts(m.cert);
    if (certs.length === 0) return { field: 'cert', message: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)' };
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certs[0]);
      for (const c of certs.slice(1)) new X509Certificate(c);
    } catch (e) {
      return { field: 'cert', message: `is not a valid certificate: ${(e as Error).message}` };
    }
    if (m.key !== undefined) {
      let key;
      try {
        key = createPrivateKey(m.key);
      } catch (e) {
        return { field: 'key', message: `is not a valid PEM private key: ${(e as Error).message}` };
      }
      if (!leaf.checkPrivateKey(key)) return { field: 'key', message: `does not match the certificate (${leaf.subject.replace(/\n/g, ', ') || leaf.subjectAltName || 'no subject'}): the private key is not the certificate's` };
      try {
        tls.createSecureContext({ cert: m.cert, key: m.key });
      } catch (e) {
        return { field: 'key', message: `cannot be used with the certificate for TLS: ${(e as Error).message}` };
      }
    }
  } else if (m.key !== undefined) {
    return { field: 'cert', message: 'is missing: a private key needs its certificate' };
  }
  if (m.ca !== undefined) {
    const cas = splitPemCerts(m.ca);
    if (cas.length === 0) return { field: 'ca', message: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)' };
    try {
      for (const c of cas) new X509Certificate(c);
    } catch (e) {
      return { field: 'ca', message: `is not a valid certificate: ${(e as Error).message}` };
    }
  }
  return undefined;
}

/**
 * Checks a Secret document's top-level fields and returns the stored spec ({type, data}); issues go
 * to ctx with paths as in the document (`data.tls\.key`). A document already in stored form
 * (`spec: {type, data}`) is accepted too.
 */
export function checkSecret(doc: Obj, ctx: Ctx): SecretSpec | undefined {
  const stored = isObj(doc.spec) && doc.data === undefined && doc.stringData === undefined;
  const base: PathSeg[] = stored ? ['spec'] : [];
  const src = stored ? (doc.spec as Obj) : doc;
  const errorsBefore = ctx.errorCount();
  let type = 'Opaque';
  if (src.type !== undefined) {
    if (typeof src.type !== 'string' || src.type === '') ctx.error([...base, 'type'], 'WEFT-TYPE', `expected a non-empty string, got ${describe(src.type)}`);
    else type = src.type;
  }
  if (src.immutable !== undefined && typeof src.immutable !== 'boolean') ctx.error([...base, 'immutable'], 'WEFT-TYPE', `expected a boolean, got ${describe(src.immutable)}`);
  const data: Record<string, string> = {};
  for (const field of ['data', 'stringData'] as const) {
    const v = src[field];
    if (v === undefined || v === null) continue;
    if (!isObj(v)) {
      ctx.error([...base, field], 'WEFT-TYPE', `expected a map of key to ${field === 'data' ? 'base64 string' : 'string'}, got ${describe(v)}`);
      continue;
    }
    for (const [k, x] of Object.entries(v)) {
      const p = [...base, field, k];
      if (!KEY_NAME.test(k)) ctx.error(p, 'WEFT-SECRET-KEY', `invalid key "${k}": keys may contain letters, digits, '-', '_' and '.'`, 'key');
      if (typeof x !== 'string') ctx.error(p, 'WEFT-TYPE', `expected a string, got ${describe(x)}`);
      else if (field === 'stringData') data[k] = Buffer.from(x, 'utf8').toString('base64');
      else if (!BASE64.test(x.replace(/\s+/g, '')) || x.replace(/\s+/g, '').length % 4 !== 0) ctx.error(p, 'WEFT-BASE64', `data values are base64; "${k}" is not valid base64 (use stringData for plain text)`);
      else data[k] = x.replace(/\s+/g, '');
    }
  }
  if (ctx.errorCount() > errorsBefore) return undefined;
  const m = tlsMaterial(data);
  if (type === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) {
      if (data[k] === undefined) ctx.error([...base, 'data'], 'WEFT-REQUIRED', `a kubernetes.io/tls Secret needs data["${k}"]`, 'value', base.length ? base : []);
    }
  }
  const tlsLike = type === 'kubernetes.io/tls' || m.cert !== undefined || m.key !== undefined || m.ca !== undefined;
  if (tlsLike && ctx.errorCount() === errorsBefore) {
    const problem = tlsPairProblem(m);
    if (problem) {
      const key = problem.field === 'cert' ? m.certKey : problem.field === 'key' ? m.keyKey : m.caKey;
      const field = data[key] !== undefined ? (doc.data !== undefined && isObj(doc.data) && key in doc.data ? 'data' : stored ? 'data' : 'stringData') : 'data';
      ctx.error(data[key] !== undefined ? [...base, field, key] : [...base, 'data'], 'WEFT-SECRET-TLS', `${key} ${problem.message}`);
    }
  }
  return ctx.errorCount() > errorsBefore ? undefined : { type, data };
}
