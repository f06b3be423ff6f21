// PEM/DER helpers and key import shared by the CA (weftd) and the workload key holder (the proxy agent).
import 'reflect-metadata'; // @peculiar/x509's DI container (tsyringe) needs the Reflect metadata API
import { createPrivateKey, webcrypto } from 'node:crypto';
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

export { x509 };
export const subtle = webcrypto.subtle;

/** Workload and CA keys made by Weft: ECDSA P-256 with SHA-256. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

import { toPem } from './pem-text.js';
export { toPem, splitPemCerts } from './pem-text.js';

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Imports a PEM private key (EC P-256/P-384 or RSA) for signing; returns the key and its signing algorithm. */
export async function importSigningKey(pem: string, what: string): Promise<{ key: CryptoKey; alg: webcrypto.Algorithm }> {
  let ko;
  try {
    ko = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`${what}: not a PEM private key (${(e as Error).message})`);
  }
  const der = ko.export({ format: 'der', type: 'pkcs8' });
  if (ko.asymmetricKeyType === 'ec') {
    const curve = ko.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (!namedCurve) throw new Error(`${what}: unsupported EC curve ${curve ?? '(unknown)'}; use P-256 or P-384`);
    const alg = { name: 'ECDSA', namedCurve, hash: namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' };
    return { key: await subtle.importKey('pkcs8', der, alg, false, ['sign']), alg };
  }
  if (ko.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: await subtle.importKey('pkcs8', der, alg, false, ['sign']), alg: alg };
  }
  throw new Error(`${what}: unsupported key type ${ko.asymmetricKeyType ?? '(unknown)'}; use EC or RSA`);
}
