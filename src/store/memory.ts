// A ConfigStore held only in memory: tests, dry runs, and `weftd --ephemeral`.
import type { Resource, ResourceKey } from '../model/index.js';
import { SerialQueue, StoreState, WatchHub, type StoreView } from './state.js';
import { StoreUnavailableError, type ConfigStore, type StoreOp, type WatchListener } from './types.js';

export class MemoryStore implements ConfigStore {
  private readonly state = new StoreState();
  private readonly queue = new SerialQueue();
  private readonly hub: WatchHub;
  private closed = false;

  constructor(opts: { onWatchError?: (err: unknown) => void } = {}) {
    this.hub = new WatchHub(opts.onWatchError ?? ((err) => { console.error('weft store: watch listener threw:', err); }));
  }

  async get(key: ResourceKey): Promise<Resource | undefined> {
    return this.state.get(key);
  }

  async list(filter?: { kind?: string; namespace?: string }): Promise<Resource[]> {
    return this.state.list(filter);
  }

  view(): StoreView {
    return this.state.view();
  }

  apply(ops: readonly StoreOp[]): Promise<Resource[]> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    return this.queue.run(() => {
      const plan = this.state.plan(ops);
      this.state.commit(plan);
      this.hub.emit(plan.events, String(this.state.revision));
      return plan.results;
    });
  }

  revision(): string {
    return String(this.state.revision);
  }

  watch(listener: WatchListener): () => void {
    return this.hub.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.run(() => undefined);
    this.hub.clear();
  }
}
