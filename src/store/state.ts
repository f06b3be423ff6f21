// The in-memory heart shared by every store backend: plans a batch against the current state
// (all checks first, nothing mutated), then commits the plan. FileStore persists a plan before
// committing it, so a failed write never leaves memory ahead of disk.
// Stored resources are deep-frozen and handed out as they are (get, list, apply results, watch
// events): reads copy nothing, and an unchanged resource keeps its identity across revisions.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { kindByName, keyString, type Resource, type ResourceKey } from '../model/index.js';
import { StoreConflictError, StoreExistsError, StoreNotFoundError, type StoreOp, type WatchEvent } from './types.js';

/** Cluster-scoped kinds (Namespace) live under namespace ''; namespaced ones default to 'default'. */
export function isClusterScoped(kind: string): boolean {
  return kindByName(kind)?.namespaced === false;
}

export function normalizeKey(key: ResourceKey): ResourceKey {
  if (isClusterScoped(key.kind)) return { kind: key.kind, namespace: '', name: key.name };
  return { kind: key.kind, namespace: key.namespace || 'default', name: key.name };
}

export function storeKeyOf(r: Pick<Resource, 'kind' | 'metadata'>): ResourceKey {
  return normalizeKey({ kind: r.kind, namespace: r.metadata?.namespace ?? '', name: r.metadata?.name });
}

/** One key's new state in a planned batch; `after` undefined means deleted. */
export interface PlannedChange {
  key: ResourceKey;
  id: string;
  before: Resource | undefined;
  after: Resource | undefined;
}

export interface BatchPlan {
  /** Revision the batch commits at; equal to the current one when nothing changes. */
  revision: number;
  /** Final state per changed key (a key touched twice appears once). */
  changes: PlannedChange[];
  events: WatchEvent[];
  /** One per op, as apply() returns them. */
  results: Resource[];
}

/** True when a put of `b` over `a` would be a no-op (apiVersion, spec, labels, annotations, other top-level fields). */
export function sameContent(a: Resource, b: Resource): boolean {
  return a.apiVersion === b.apiVersion
    && isDeepStrictEqual(a.spec, b.spec)
    && isDeepStrictEqual(a.metadata.labels ?? {}, b.metadata.labels ?? {})
    && isDeepStrictEqual(a.metadata.annotations ?? {}, b.metadata.annotations ?? {})
    && isDeepStrictEqual(extraFields(a), extraFields(b));
}

/** Top-level fields other than the envelope (e.g. `status`), compared so they are not silently dropped. */
function extraFields(r: Resource): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata: _m, spec: _s, ...rest } = r as unknown as Record<string, unknown>;
  return rest;
}

function checkPutShape(r: Resource): void {
  if (!r || typeof r !== 'object') throw new TypeError('store put: resource must be an object');
  if (typeof r.kind !== 'string' || !r.kind) throw new TypeError('store put: resource.kind must be a non-empty string');
  if (!r.metadata || typeof r.metadata.name !== 'string' || !r.metadata.name) {
    throw new TypeError(`store put: ${r.kind} needs metadata.name`);
  }
}

/** Freezes an object and everything it holds; stops at objects already frozen (they are deeply frozen). */
export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  }
  return v;
}

/** The store's resources at one revision, sorted by key; valid until the caller next awaits. */
export interface StoreView {
  revision: string;
  /** Shared and updated in place by later commits: copy it (slice) before awaiting; never mutate it. */
  resources: readonly Resource[];
  /** Index in `resources` of the key (`keyString` of the normalized key), -1 when absent. */
  indexOf(id: string): number;
}

export class StoreState {
  private readonly objects = new Map<string, Resource>();
  revision = 0;
  /** Every resource sorted by key id, rebuilt only when keys come or go (a modification updates it in place). */
  private sorted: Resource[] | undefined;
  private sortedIndex = new Map<string, number>();

  get(key: ResourceKey): Resource | undefined {
    return this.objects.get(keyString(normalizeKey(key)));
  }

  /** Adds a resource read from disk at open (frozen here). */
  load(r: Resource): void {
    this.objects.set(keyString(storeKeyOf(r)), deepFreeze(r));
    this.sorted = undefined;
  }

  list(filter: { kind?: string; namespace?: string } = {}): Resource[] {
    const all = this.sortedResources();
    if (filter.kind === undefined && filter.namespace === undefined) return all.slice();
    return all.filter((r) => (filter.kind === undefined || r.kind === filter.kind)
      && (filter.namespace === undefined || (r.metadata.namespace ?? '') === filter.namespace));
  }

  view(): StoreView {
    const resources = this.sortedResources();
    return { revision: String(this.revision), resources, indexOf: (id) => this.sortedIndex.get(id) ?? -1 };
  }

  private sortedResources(): Resource[] {
    if (!this.sorted) {
      // localeCompare, as lists were always sorted; only when the set of keys changed.
      const ids = [...this.objects.keys()].sort((a, b) => a.localeCompare(b));
      this.sorted = ids.map((id) => this.objects.get(id)!);
      this.sortedIndex = new Map(ids.map((id, i) => [id, i]));
    }
    return this.sorted;
  }

  /** Checks every op against the current state plus the earlier ops of the batch; throws on the first failure. */
  plan(ops: readonly StoreOp[], now = new Date()): BatchPlan {
    const next = this.revision + 1;
    const rv = String(next);
    const staged = new Map<string, PlannedChange>();
    const current = (id: string): Resource | undefined => (staged.has(id) ? staged.get(id)!.after : this.objects.get(id));
    const results: Resource[] = [];
    for (const op of ops) {
      if (op.op === 'put') {
        checkPutShape(op.resource);
        const key = storeKeyOf(op.resource);
        const id = keyString(key);
        const old = current(id);
        if (op.mustCreate && old) throw new StoreExistsError(`${id} already exists`, key);
        if (op.expectResourceVersion !== undefined) {
          if (!old) throw new StoreNotFoundError(`${id} not found (expected resourceVersion ${op.expectResourceVersion})`, key);
          if (old.metadata.resourceVersion !== op.expectResourceVersion) {
            throw new StoreConflictError(`${id}: resourceVersion is ${old.metadata.resourceVersion}, expected ${op.expectResourceVersion}`, key);
          }
        }
        const incoming = structuredClone(op.resource); // the caller keeps its object; the store freezes its own
        const meta = { ...incoming.metadata };
        if (key.namespace) meta.namespace = key.namespace;
        else delete meta.namespace;
        const candidate: Resource = { ...incoming, metadata: meta };
        if (old && sameContent(old, candidate)) {
          results.push(old);
          continue;
        }
        meta.uid = old?.metadata.uid ?? randomUUID();
        meta.creationTimestamp = old?.metadata.creationTimestamp ?? now.toISOString().replace(/\.\d{3}Z$/, 'Z');
        meta.generation = !old ? 1 : isDeepStrictEqual(old.spec, candidate.spec) ? old.metadata.generation ?? 1 : (old.metadata.generation ?? 1) + 1;
        meta.resourceVersion = rv;
        deepFreeze(candidate);
        stage(staged, id, key, this.objects.get(id), candidate);
        results.push(candidate);
      } else {
        const key = normalizeKey(op.key);
        const id = keyString(key);
        const old = current(id);
        if (!old) throw new StoreNotFoundError(`${id} not found`, key);
        if (op.expectResourceVersion !== undefined && old.metadata.resourceVersion !== op.expectResourceVersion) {
          throw new StoreConflictError(`${id}: resourceVersion is ${old.metadata.resourceVersion}, expected ${op.expectResourceVersion}`, key);
        }
        stage(staged, id, key, this.objects.get(id), undefined);
        results.push(old);
      }
    }
    // A key created then deleted in the same batch leaves no trace.
    const changes = [...staged.values()].filter((c) => c.before !== undefined || c.after !== undefined);
    const events: WatchEvent[] = changes.map((c) => (c.after
      ? { type: c.before ? 'MODIFIED' : 'ADDED', resource: c.after, resourceVersion: rv }
      : { type: 'DELETED', resource: c.before!, resourceVersion: rv }));
    return { revision: changes.length ? next : this.revision, changes, events, results };
  }

  commit(plan: BatchPlan): void {
    for (const c of plan.changes) {
      if (c.after) this.objects.set(c.id, c.after);
      else this.objects.delete(c.id);
      const at = this.sortedIndex.get(c.id);
      if (this.sorted && c.before && c.after && at !== undefined) this.sorted[at] = c.after;
      else this.sorted = undefined;
    }
    this.revision = Math.max(this.revision, plan.revision);
  }
}

function stage(staged: Map<string, PlannedChange>, id: string, key: ResourceKey, before: Resource | undefined, after: Resource | undefined): void {
  const prev = staged.get(id);
  staged.set(id, { key, id, before: prev ? prev.before : before, after });
}

/** Serializes async operations (applies) so each sees the state the previous one left. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

/** Calls each watcher; a throwing watcher is reported and does not affect the store or other watchers. */
export class WatchHub {
  private readonly listeners = new Set<(events: readonly WatchEvent[], revision: string) => void>();
  constructor(private readonly onError: (err: unknown) => void) {}
  add(listener: (events: readonly WatchEvent[], revision: string) => void): () => void {
    const entry = (e: readonly WatchEvent[], r: string): void => listener(e, r);
    this.listeners.add(entry);
    return () => { this.listeners.delete(entry); };
  }
  emit(events: readonly WatchEvent[], revision: string): void {
    if (events.length === 0) return;
    for (const l of [...this.listeners]) {
      try { l(events, revision); } catch (err) { this.onError(err); }
    }
  }
  clear(): void { this.listeners.clear(); }
}
