// POST /apis/weft.dev/v1/apply: what `weft apply -f` and `weft delete -f` call. Every item is
// validated (and the resulting config analyzed) before anything is written, then all items go to
// the store in ONE atomic batch: one bad document means nothing changes.
import { keyString, type Resource, type ResourceKey } from '../model/index.js';
import { StoreConflictError, StoreExistsError, StoreNotFoundError, type ConfigStore, type StoreOp } from '../store/types.js';
import { normalizeKey, sameContent, storeKeyOf } from '../store/state.js';
import { checkObject, normalizeObject, structuralErrors, type Analyze, type Validate } from './objects.js';
import type { Router } from './router.js';
import { apiError, badRequest, causeOf, describeDiagnostic } from './status.js';
import { APPLY_PATH, type ApplyAction, type ApplyItemResult, type ApplyResponse, type Diagnostic } from './types.js';

export interface ApplyRouteDeps {
  store: ConfigStore;
  validate: Validate;
  analyze?: Analyze;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const RETRIES = 5;
const MAX_WARNING_HEADERS = 50;

export function registerApplyRoute(router: Router, deps: ApplyRouteDeps): void {
  router.add('POST', APPLY_PATH, async (ctx) => {
    const body = await ctx.body();
    if (!isObject(body)) throw badRequest('apply: body must be {"items": [...], "dryRun"?: bool, "delete"?: bool}');
    if (!Array.isArray(body.items)) throw badRequest('apply: "items" must be an array of resources');
    for (const flag of ['dryRun', 'delete'] as const) {
      if (body[flag] !== undefined && typeof body[flag] !== 'boolean') throw badRequest(`apply: "${flag}" must be true or false`);
    }
    const result = await applyItems(deps, body.items as unknown[], { dryRun: body.dryRun === true, delete: body.delete === true });
    result.warnings.slice(0, MAX_WARNING_HEADERS).forEach((w) => ctx.warn(describeDiagnostic(w)));
    return result;
  });
}

/** Validates every item, analyzes the resulting config, then applies all of it in one store batch. */
export async function applyItems(deps: ApplyRouteDeps, raw: readonly unknown[], opts: { dryRun: boolean; delete: boolean }): Promise<ApplyResponse> {
  const { store } = deps;
  // Deletes need only kind and name: a document that no longer validates can still be deleted.
  // Namespaces are defaulted first so the validator and every message see what will be stored.
  const prepared = raw.map((item) => (isObject(item) && isObject(item.metadata) && typeof item.kind === 'string' ? normalizeObject(item as unknown as Resource) : item));
  const checked = prepared.map((item) => (opts.delete ? structuralErrors(item) : checkObject(deps.validate, item)));
  const errors: { index: number; d: Diagnostic }[] = [];
  checked.forEach((ds, index) => ds.filter((d) => d.severity === 'error').forEach((d) => errors.push({ index, d })));
  const warnings = checked.flat().filter((d) => d.severity === 'warning');
  if (errors.length) throw invalidItems(errors, raw.length);

  const items = prepared as Resource[];
  const keys = items.map((r) => storeKeyOf(r));
  const seen = new Map<string, number>();
  keys.forEach((k, index) => {
    const id = keyString(k);
    const first = seen.get(id);
    if (first !== undefined) errors.push({ index, d: { severity: 'error', code: 'WEFT-API-DUPLICATE', message: `duplicate of items[${first}] (${id})`, ...k } });
    else seen.set(id, index);
  });
  if (errors.length) throw invalidItems(errors, raw.length);

  for (let attempt = 0; attempt < RETRIES; attempt++) {
    const existing = await Promise.all(keys.map((k) => store.get(k)));
    const analysis = deps.analyze ? await analyzeResult(deps.analyze, store, items.map((r, i) => reuseStored(r, existing[i])), keys, opts.delete) : { blocking: [], other: [] };
    if (analysis.blocking.length) {
      throw invalidItems(analysis.blocking.map((d) => ({ index: keys.findIndex((k) => sameKey(k, d)), d })), raw.length);
    }
    const ops: StoreOp[] = [];
    const results: ApplyItemResult[] = items.map((r, i) => {
      const key = keys[i];
      const old = existing[i];
      const base = { kind: key.kind, namespace: key.namespace, name: key.name };
      if (opts.delete) {
        if (!old) return { ...base, action: 'not found' as ApplyAction };
        ops.push({ op: 'delete', key, expectResourceVersion: old.metadata.resourceVersion });
        return { ...base, action: 'deleted' as ApplyAction };
      }
      if (!old) {
        ops.push({ op: 'put', resource: r, mustCreate: true });
        return { ...base, action: 'created' as ApplyAction };
      }
      ops.push({ op: 'put', resource: r, expectResourceVersion: old.metadata.resourceVersion });
      return { ...base, action: (sameContent(old, r) ? 'unchanged' : 'configured') as ApplyAction, resourceVersion: old.metadata.resourceVersion };
    });
    const allWarnings = [...warnings, ...analysis.other];
    if (opts.dryRun) return response(results, allWarnings, true, store.revision());
    let stored: Resource[];
    try {
      stored = ops.length ? await store.apply(ops) : [];
    } catch (e) {
      // Someone wrote one of these objects between our read and the batch: read again and redo.
      if (e instanceof StoreConflictError || e instanceof StoreExistsError || e instanceof StoreNotFoundError) continue;
      throw e;
    }
    let next = 0;
    for (const r of results) {
      if (r.action === 'not found') continue;
      const s = stored[next++];
      if (r.action !== 'deleted') r.resourceVersion = s.metadata.resourceVersion;
    }
    return response(results, allWarnings, false, store.revision());
  }
  throw apiError(409, 'Conflict', 'apply: the objects kept changing concurrently while applying; try again');
}

function response(items: ApplyItemResult[], warnings: Diagnostic[], dryRun: boolean, revision: string): ApplyResponse {
  return { kind: 'ApplyResult', apiVersion: 'weft.dev/v1', items, warnings, dryRun, revision };
}

function sameKey(k: ResourceKey, d: Diagnostic): boolean {
  if (!d.kind || !d.name) return false;
  return keyString(k) === keyString(normalizeKey({ kind: d.kind, namespace: d.namespace ?? '', name: d.name }));
}

/**
 * Runs the cross-resource analyzer over the config as it would be after the apply. Errors about the
 * items being applied block it; findings about other objects are passed on as warnings, so an old
 * problem elsewhere never blocks every apply.
 */
async function analyzeResult(analyze: Analyze, store: ConfigStore, items: Resource[], keys: ResourceKey[], deleting: boolean) {
  let ds: Diagnostic[];
  try {
    ds = analyze(await stateAfter(store, items, keys, deleting));
  } catch (e) {
    ds = [{ severity: 'warning', code: 'WEFT-API-ANALYZER', message: `analyzer failed: ${(e as Error).message}` }];
  }
  const blocking = deleting ? [] : ds.filter((d) => d.severity === 'error' && keys.some((k) => sameKey(k, d)));
  const other = ds.filter((d) => !blocking.includes(d)).map((d) => ({ ...d, severity: 'warning' as const }));
  return { blocking, other };
}

/**
 * The config as it would be after the apply: the store's resources in key order (its own frozen
 * objects, uncopied, which lets the analyzer skip what it already checked), applied items in place
 * of the stored ones, new ones at the end, deleted ones left out.
 */
async function stateAfter(store: ConfigStore, items: Resource[], keys: ResourceKey[], deleting: boolean): Promise<Resource[]> {
  const view = store.view?.();
  if (!view) {
    const state = new Map<string, Resource>();
    for (const r of await store.list()) state.set(keyString(storeKeyOf(r)), r);
    items.forEach((r, i) => {
      if (deleting) state.delete(keyString(keys[i]));
      else state.set(keyString(keys[i]), r);
    });
    return [...state.values()];
  }
  const out = view.resources.slice();
  const added: Resource[] = [];
  let removed = false;
  items.forEach((r, i) => {
    const at = view.indexOf(keyString(keys[i]));
    if (deleting) {
      if (at >= 0) { out[at] = undefined as unknown as Resource; removed = true; }
    } else if (at >= 0) out[at] = r;
    else added.push(r);
  });
  const kept = removed ? out.filter((r) => r !== undefined) : out;
  kept.push(...added);
  return kept;
}

/** An item identical to its stored object is analyzed as the stored (frozen, already analyzed) one. */
function reuseStored(item: Resource, stored: Resource | undefined): Resource {
  return stored && sameContent(stored, item) ? stored : item;
}

function invalidItems(errors: { index: number; d: Diagnostic }[], total: number) {
  const causes = errors.map(({ index, d }) => causeOf(d, index >= 0 ? `items[${index}]` : ''));
  const bad = new Set(errors.map((e) => e.index)).size;
  const first = errors.slice(0, 3).map(({ d }) => describeDiagnostic(d)).join('; ');
  const more = errors.length > 3 ? `; and ${errors.length - 3} more` : '';
  return apiError(422, 'Invalid', `apply rejected, nothing was changed: ${bad} of ${total} item(s) invalid: ${first}${more}`, {
    kind: 'apply', causes, diagnostics: errors.map((e) => e.d),
  });
}
