// Secrets leave the API without their data: a GET, list, create, apply or delete answer shows the
// metadata, the type, the key names with their sizes and the certificates' details, never the bytes
// (the private key stays in weftd's store and reaches only the gateway proxies that need it, by SDS).
import type { Resource, SecretSpec } from '../model/index.js';
import { certificateInfo, tlsMaterial } from '../config/index.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The public view of a stored Secret. */
export function secretView(r: Resource<SecretSpec>): Record<string, unknown> {
  const data = isObject(r.spec?.data) ? r.spec.data : {};
  const keys: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) keys[k] = `${Buffer.from(v, 'base64').length} bytes`;
  let certificates: unknown;
  try {
    const m = tlsMaterial(data);
    if (m.cert) certificates = certificateInfo(m.cert);
  } catch {
    certificates = undefined; // validated on write; an unreadable one simply shows no details
  }
  return { apiVersion: r.apiVersion, kind: 'Secret', metadata: r.metadata, type: r.spec?.type ?? 'Opaque', keys, ...(certificates ? { certificates } : {}) };
}

/** Replaces every Secret in an API answer (object, list items, apply results) by its public view. */
export function redactSecrets(body: unknown, depth = 0): unknown {
  if (depth > 4) return body;
  if (Array.isArray(body)) return body.some((x) => hasSecret(x, depth + 1)) ? body.map((x) => redactSecrets(x, depth + 1)) : body;
  if (!isObject(body)) return body;
  if (body.kind === 'Secret' && isObject(body.metadata) && 'spec' in body) return secretView(body as unknown as Resource<SecretSpec>);
  if (!hasSecret(body, depth)) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) out[k] = redactSecrets(v, depth + 1);
  return out;
}

function hasSecret(v: unknown, depth: number): boolean {
  if (depth > 4) return false;
  if (Array.isArray(v)) return v.some((x) => hasSecret(x, depth + 1));
  if (!isObject(v)) return false;
  if (v.kind === 'Secret') return true;
  return Object.values(v).some((x) => typeof x === 'object' && x !== null && hasSecret(x, depth + 1));
}
