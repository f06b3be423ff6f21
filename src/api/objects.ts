// What the API itself must know about an object to route and store it (kind, apiVersion, name):
// the minimum checks, done only when the injected validator found nothing, so messages are not doubled.
import { kindByName, type KindInfo, type Resource } from '../model/index.js';
import { StoreConflictError, StoreExistsError, StoreNotFoundError, StoreUnavailableError } from '../store/types.js';
import { alreadyExists, apiError, conflict, notFound } from './status.js';
import type { Diagnostic } from './types.js';

export type Validate = (obj: unknown) => Diagnostic[];
export type Analyze = (resources: Resource[]) => Diagnostic[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function err(code: string, message: string, path: string, obj: Record<string, unknown>): Diagnostic {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  return {
    severity: 'error', code, message, path,
    ...(typeof obj.kind === 'string' ? { kind: obj.kind } : {}),
    ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
    ...(typeof meta.name === 'string' ? { name: meta.name } : {}),
  };
}

/** Errors that make an object impossible to store, whatever the validator said. */
export function structuralErrors(obj: unknown): Diagnostic[] {
  if (!isObject(obj)) return [{ severity: 'error', code: 'WEFT-API-OBJECT', message: `expected an object, got ${Array.isArray(obj) ? 'an array' : typeof obj}` }];
  const out: Diagnostic[] = [];
  const info = typeof obj.kind === 'string' ? kindByName(obj.kind) : undefined;
  if (typeof obj.kind !== 'string' || !obj.kind) out.push(err('WEFT-API-KIND', 'kind is required', 'kind', obj));
  else if (!info) out.push(err('WEFT-API-KIND', `kind "${obj.kind}" is not one Weft stores`, 'kind', obj));
  if (typeof obj.apiVersion !== 'string' || !obj.apiVersion) out.push(err('WEFT-API-VERSION', 'apiVersion is required', 'apiVersion', obj));
  else if (info && !apiVersionAccepted(info, obj.apiVersion)) {
    out.push(err('WEFT-API-VERSION', `apiVersion "${obj.apiVersion}" is not accepted for ${info.kind} (use ${info.versions.map((v) => (info.group ? `${info.group}/${v}` : v)).join(', ')})`, 'apiVersion', obj));
  }
  const meta = obj.metadata;
  if (!isObject(meta)) out.push(err('WEFT-API-NAME', 'metadata is required', 'metadata', obj));
  else if (typeof meta.name !== 'string' || !meta.name) out.push(err('WEFT-API-NAME', 'metadata.name is required', 'metadata.name', obj));
  else if (meta.namespace !== undefined && typeof meta.namespace !== 'string') out.push(err('WEFT-API-NAME', 'metadata.namespace must be a string', 'metadata.namespace', obj));
  return out;
}

export function apiVersionAccepted(info: KindInfo, apiVersion: string): boolean {
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  return group === info.group && info.versions.includes(version);
}

/** Runs the injected validator, then (if it found no error) the structural checks; fills kind/namespace/name. */
export function checkObject(validate: Validate, obj: unknown): Diagnostic[] {
  let ds: Diagnostic[];
  try {
    ds = validate(obj);
  } catch (e) {
    ds = [{ severity: 'error', code: 'WEFT-API-VALIDATOR', message: `validator failed: ${(e as Error).message}` }];
  }
  if (!ds.some((d) => d.severity === 'error')) ds = [...ds, ...structuralErrors(obj)];
  const r = obj as Partial<Resource> | undefined;
  return ds.map((d) => ({
    ...d,
    kind: d.kind ?? (typeof r?.kind === 'string' ? r.kind : undefined),
    namespace: d.namespace ?? r?.metadata?.namespace,
    name: d.name ?? r?.metadata?.name,
  }));
}

/** Namespaced kinds default to `default`; cluster-scoped kinds carry no namespace. Returns a copy. */
export function normalizeObject(r: Resource): Resource {
  const info = kindByName(r.kind);
  const metadata = { ...r.metadata };
  if (info && !info.namespaced) delete metadata.namespace;
  else metadata.namespace = metadata.namespace || 'default';
  return secretStoredForm({ ...r, metadata });
}

/**
 * A Secret written in Kubernetes' shape (top-level type/data/stringData) is stored as
 * `spec: {type, data}` (stringData base64-encoded into data), the form translation reads. Malformed
 * values are left where they are, so the validator names them at their own paths.
 */
export function secretStoredForm(r: Resource): Resource {
  const o = r as unknown as Record<string, unknown>;
  if (r.kind !== 'Secret' || (o.data === undefined && o.stringData === undefined && o.type === undefined)) return r;
  const strings = (v: unknown): v is Record<string, string> => v === undefined || (isObject(v) && Object.values(v).every((x) => typeof x === 'string'));
  if (!strings(o.data) || !strings(o.stringData) || (o.type !== undefined && typeof o.type !== 'string')) return r;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.data ?? {})) data[k] = v.replace(/\s+/g, '');
  for (const [k, v] of Object.entries(o.stringData ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64');
  const { data: _d, stringData: _s, type, immutable: _i, ...rest } = o;
  return { ...rest, spec: { type: typeof type === 'string' && type ? type : 'Opaque', data } } as unknown as Resource;
}

/** Maps store errors to the Kubernetes Status the API returns; rethrows anything else. */
export function mapStoreError(e: unknown, info: KindInfo, name: string): never {
  if (e instanceof StoreExistsError) throw alreadyExists(info.plural, info.group, name);
  if (e instanceof StoreConflictError) throw conflict(info.plural, info.group, name);
  if (e instanceof StoreNotFoundError) throw notFound(info.plural, info.group, name);
  if (e instanceof StoreUnavailableError) throw apiError(503, 'ServiceUnavailable', e.message);
  throw e;
}
