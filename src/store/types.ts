// The ConfigStore contract: every backend (memory, file, later etcd/Kubernetes) implements this and
// passes the shared conformance suite in conformance.ts.
import type { Resource, ResourceKey } from '../model/index.js';

export type StoreOp =
  | { op: 'put'; resource: Resource; expectResourceVersion?: string; mustCreate?: boolean }
  | { op: 'delete'; key: ResourceKey; expectResourceVersion?: string };

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  /** Revision of the batch that produced the event (for DELETED: the revision of the deletion). */
  resourceVersion: string;
}

export type WatchListener = (events: readonly WatchEvent[], revision: string) => void;

/**
 * Resources a store returns (get, list, apply results, watch events) are deep-frozen and shared:
 * read them, never mutate them (copy first). An unchanged resource is the same object at every revision.
 */
export interface ConfigStore {
  get(key: ResourceKey): Promise<Resource | undefined>;
  /** Sorted by key; the array is the caller's, the resources are shared (frozen). */
  list(filter?: { kind?: string; namespace?: string }): Promise<Resource[]>;
  /** Optional synchronous, copy-free read of every resource (see StoreView in state.ts). */
  view?(): import('./state.js').StoreView;
  /**
   * Atomic: all ops apply or none. Ops apply in order, each seeing the previous ones of the batch.
   * Throws StoreConflictError (409), StoreNotFoundError (404), StoreExistsError (409).
   * Returns one resource per op: the stored resource (metadata.resourceVersion, generation, uid,
   * creationTimestamp filled) for a put, the last stored state for a delete.
   * A put identical to what is stored (apiVersion, spec, labels, annotations) is a no-op that keeps
   * the resourceVersion. All changes of one batch share one new revision.
   */
  apply(ops: readonly StoreOp[]): Promise<Resource[]>;
  /** Current global revision (monotonic, decimal string; '0' for an empty new store). */
  revision(): string;
  /** Called after every apply that changed something; returns the unsubscribe function. */
  watch(listener: WatchListener): () => void;
  close(): Promise<void>;
}

/** Base class: every store error carries an HTTP-like code so the API can map it directly. */
export class StoreError extends Error {
  constructor(message: string, readonly code: number, readonly key?: ResourceKey) {
    super(message);
    this.name = new.target.name;
  }
}

/** expectResourceVersion did not match the stored object. */
export class StoreConflictError extends StoreError {
  constructor(message: string, key?: ResourceKey) { super(message, 409, key); }
}

/** Delete (or a conditional put) of an object that does not exist. */
export class StoreNotFoundError extends StoreError {
  constructor(message: string, key?: ResourceKey) { super(message, 404, key); }
}

/** mustCreate put of an object that already exists. */
export class StoreExistsError extends StoreError {
  constructor(message: string, key?: ResourceKey) { super(message, 409, key); }
}

/** The store cannot accept writes (closed, or a disk write failed part-way and it must be reopened). */
export class StoreUnavailableError extends StoreError {
  constructor(message: string) { super(message, 503); }
}

/** A problem found while opening a persistent store (corrupt file, torn journal); the file was skipped. */
export interface StoreLoadProblem {
  file: string;
  message: string;
}
