// A PKCS#10 certificate request built with node:crypto alone (a few DER structures), so the sidecar
// does not load an ASN.1 library at start: ECDSA P-256 key, empty subject, one critical URI SAN.
import { generateKeyPairSync, sign } from 'node:crypto';
import { toPem } from './pem-text.js';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x >>= 8) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const SEQ = 0x30;
const OID_EXTENSION_REQUEST = Buffer.from('06092a864886f70d01090e', 'hex'); // 1.2.840.113549.1.9.14
const OID_SAN = Buffer.from('0603551d11', 'hex'); // 2.5.29.17
const ECDSA_SHA256 = tlv(SEQ, Buffer.from('06082a8648ce3d040302', 'hex')); // 1.2.840.10045.4.3.2

export function makeCsrDer(uri: string): { csrPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const san = tlv(SEQ, tlv(0x86, Buffer.from(uri, 'ascii'))); // GeneralNames { uniformResourceIdentifier }
  const extension = tlv(SEQ, OID_SAN, Buffer.from([0x01, 0x01, 0xff]), tlv(0x04, san)); // critical
  const attribute = tlv(SEQ, OID_EXTENSION_REQUEST, tlv(0x31, tlv(SEQ, extension)));
  const info = tlv(SEQ,
    Buffer.from([0x02, 0x01, 0x00]), // version 0
    tlv(SEQ), // empty subject
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa0, attribute)); // [0] attributes
  const signature = sign('sha256', info, privateKey); // DER ECDSA-Sig-Value
  const csr = tlv(SEQ, info, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  return { csrPem: toPem(csr, 'CERTIFICATE REQUEST'), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
