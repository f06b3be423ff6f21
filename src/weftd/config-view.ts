// The store's resources as of its latest revision, kept up to date from watch events, so a
// rebuild does not list (and copy) the whole store for every change. Falls back to a full list
// whenever it may have missed a batch (revisions not consecutive, or not yet listed).
import type { Resource } from '../model/index.js';
import type { ConfigStore, WatchEvent } from '../store/types.js';

const keyOf = (r: Resource): string => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

export class ConfigView {
  private resources: Map<string, Resource> | undefined;
  private revision = -1;
  private readonly unwatch: () => void;

  constructor(private readonly store: ConfigStore) {
    this.unwatch = store.watch((events, revision) => this.apply(events, Number(revision)));
  }

  private apply(events: readonly WatchEvent[], revision: number): void {
    if (!this.resources || revision !== this.revision + 1) {
      this.resources = undefined; // missed something: list again on the next read
      return;
    }
    for (const e of events) {
      // Events are shared with other watchers: copy what is kept, unless frozen (the store's are,
      // deeply: then the snapshot takes the object as it is, without a key or a copy).
      if (e.type === 'DELETED') this.resources.delete(keyOf(e.resource));
      else this.resources.set(keyOf(e.resource), Object.isFrozen(e.resource) ? e.resource : structuredClone(e.resource));
    }
    this.revision = revision;
  }

  /** Every resource (the caller must not mutate them), listing the store only when needed. */
  async list(): Promise<Resource[]> {
    if (!this.resources || String(this.revision) !== this.store.revision()) {
      // revision() and the listing are taken together, before any event can run in between.
      const revision = Number(this.store.revision());
      const all = this.store.list();
      this.resources = undefined; // events arriving while the listing is awaited are dropped...
      const listed = new Map((await all).map((r) => [keyOf(r), r]));
      this.resources = listed;
      this.revision = revision; // ...and the revision check above relists on the next read
      return [...listed.values()];
    }
    return [...this.resources.values()];
  }

  close(): void {
    this.unwatch();
  }
}
