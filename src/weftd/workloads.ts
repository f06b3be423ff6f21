// Live workloads registered by `weft run` (Weft's pods): address allocation, persistence, liveness.
//
// A workload stays registered while its sidecar holds an ADS stream to weftd. When the stream ends
// and the sidecar does not come back within `graceMs`, the workload is removed from every endpoint
// set, so replicas that died without deregistering stop receiving traffic. A swept workload is
// remembered (persisted too): if its sidecar reconnects later (a network blip longer than the grace,
// weftd restarted), it is registered again as it was, at its address, with no new `weft run`.
// Deregistration (`weft run` stopping) forgets it for good.
import { EventEmitter } from 'node:events';
import type { Workload } from '../model/index.js';
import { RegistryJournal, type KeyState } from './workloads-journal.js';

export interface WorkloadRegistryOptions {
  /** File the registry persists to (JSON snapshot plus an append-only journal `<file>.journal`); none = memory only. */
  file?: string;
  /**
   * Unset (default): every change is durable when the method making it returns (one journal append
   * and fdatasync). Set: changes are written in batches (one write and one fdatasync per batch,
   * collected for this many ms); whoever acknowledges a change must first await `durable()`.
   */
  batchWindowMs?: number;
  /** First three octets are fixed per weftd: addresses are allocated as `<base>.<n>` and `<base16>.<x>.<y>`. */
  addressBase?: string; // e.g. '127.20' -> 127.20.0.2 .. 127.20.255.254
  graceMs?: number;
  /** How long a new registration may wait for its sidecar's first connection (default max(graceMs, 30 s)). */
  firstConnectGraceMs?: number;
  clock?: () => number;
  /** How long a swept workload can come back when its sidecar reconnects (default 24 h). */
  rememberSweptMs?: number;
  /** Told when a swept workload's sidecar reconnected and the workload is registered again. */
  onRestored?: (w: Workload) => void;
}

/** A swept workload, kept so its sidecar can bring it back. */
export interface Swept { workload: Workload; sweptAt: number }

const MAX_SWEPT = 4096;

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export class WorkloadRegistry extends EventEmitter<{ change: [] }> {
  private readonly byKey = new Map<string, Workload>();
  private readonly disconnectedAt = new Map<string, number>();
  /** Registered, sidecar not connected yet: these get the (longer) first-connect grace. */
  private readonly awaitingFirstConnect = new Set<string>();
  private readonly swept = new Map<string, Swept>();
  private readonly base: string;
  private readonly graceMs: number;
  private readonly clock: () => number;
  private sweepTimer?: NodeJS.Timeout;
  private readonly journal: RegistryJournal | undefined;
  /** Addresses in use: live workloads (address -> key) and swept ones (reserved, with a count). */
  private readonly liveAt = new Map<string, string>();
  private readonly sweptAt = new Map<string, number>();
  private nextAddress = 2;

  constructor(private readonly opts: WorkloadRegistryOptions = {}) {
    super();
    this.base = opts.addressBase ?? '127.20';
    if (!/^127\.\d{1,3}$/.test(this.base)) throw new Error(`address base must look like 127.N, got ${this.base}`);
    this.graceMs = opts.graceMs ?? 15_000;
    this.clock = opts.clock ?? Date.now;
    if (opts.file) {
      this.journal = new RegistryJournal(opts.file, opts.batchWindowMs, () => this.state(), () => this.byKey.size + this.swept.size);
      const loaded = this.journal.load();
      for (const w of loaded.workloads) this.setLive(`${w.namespace}/${w.name}`, w);
      for (const g of loaded.swept) this.setSwept(`${g.workload.namespace}/${g.workload.name}`, g);
    }
    // Workloads loaded from disk must reconnect within the grace period to stay.
    for (const k of this.byKey.keys()) this.disconnectedAt.set(k, this.clock());
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, this.graceMs)).unref();
  }

  list(): Workload[] {
    return [...this.byKey.values()];
  }

  get(namespace: string, name: string): Workload | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }

  /** Registers (or re-registers) a workload. The address is allocated unless the caller already holds one. */
  register(input: Omit<Workload, 'address'> & { address?: string }): Workload {
    if (!NAME_RE.test(input.name)) throw new Error(`workload name "${input.name}" must be a DNS-1123 name`);
    if (!NAME_RE.test(input.namespace)) throw new Error(`namespace "${input.namespace}" must be a DNS-1123 label`);
    const key = `${input.namespace}/${input.name}`;
    const existing = this.byKey.get(key);
    const address = input.address ?? existing?.address ?? this.swept.get(key)?.workload.address ?? this.allocate();
    if (!address.startsWith('127.')) throw new Error(`workload address ${address} is not in 127.0.0.0/8`);
    const taken = this.liveAt.get(address);
    if (taken !== undefined && taken !== key) throw new Error(`address ${address} is already used by ${taken}`);
    const w: Workload = { ...input, address, labels: { ...input.labels }, ports: { ...input.ports } };
    this.setLive(key, w);
    this.setSwept(key, undefined);
    if (!existing) this.awaitingFirstConnect.add(key);
    this.disconnectedAt.set(key, this.clock()); // until its sidecar connects
    this.persist(key);
    this.emit('change');
    return w;
  }

  deregister(namespace: string, name: string): boolean {
    const key = `${namespace}/${name}`;
    const had = this.setLive(key, undefined);
    const wasSwept = this.setSwept(key, undefined);
    this.disconnectedAt.delete(key);
    this.awaitingFirstConnect.delete(key);
    if (had || wasSwept) this.persist(key);
    if (had) this.emit('change');
    return had;
  }

  setReady(namespace: string, name: string, ready: boolean): void {
    const w = this.byKey.get(`${namespace}/${name}`);
    if (!w || w.ready === ready) return;
    w.ready = ready;
    this.persist(`${namespace}/${name}`);
    this.emit('change');
  }

  /**
   * The workload's sidecar connected (or reconnected) its ADS stream, from `address` (its node id's).
   * A workload swept while its sidecar was away is registered again, if the sidecar is at its address.
   */
  connected(namespace: string, name: string, address?: string): void {
    const key = `${namespace}/${name}`;
    this.disconnectedAt.delete(key);
    this.awaitingFirstConnect.delete(key);
    const gone = this.swept.get(key);
    if (!gone || this.byKey.has(key) || address !== gone.workload.address) return;
    if (this.liveAt.has(address)) return; // reused meanwhile: not ours to give back
    this.setSwept(key, undefined);
    this.setLive(key, gone.workload);
    this.persist(key);
    this.emit('change');
    this.opts.onRestored?.(gone.workload);
  }

  disconnected(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (this.byKey.has(key)) this.disconnectedAt.set(key, this.clock());
  }

  /** Removes workloads whose sidecar has been gone longer than the grace period. */
  sweep(): void {
    const now = this.clock();
    // A sidecar that is still starting (a cold Node.js process on a busy machine) is not a dead one.
    const firstGrace = this.opts.firstConnectGraceMs ?? Math.max(this.graceMs, 30_000);
    let changed = false;
    const keys: string[] = [];
    for (const [key, since] of this.disconnectedAt) {
      if (now - since >= (this.awaitingFirstConnect.has(key) ? firstGrace : this.graceMs)) {
        this.disconnectedAt.delete(key);
        const w = this.byKey.get(key);
        // One that never connected has no sidecar to come back with: not remembered.
        if (w && !this.awaitingFirstConnect.has(key)) this.setSwept(key, { workload: w, sweptAt: now });
        this.awaitingFirstConnect.delete(key);
        if (this.setLive(key, undefined)) { changed = true; keys.push(key); }
      }
    }
    const keep = this.opts.rememberSweptMs ?? 24 * 3600_000;
    for (const [key, g] of this.swept) {
      if (now - g.sweptAt < keep && this.swept.size <= MAX_SWEPT) continue;
      this.setSwept(key, undefined); // oldest first (insertion order)
      keys.push(key);
    }
    if (keys.length) this.persist(...keys);
    if (changed) this.emit('change');
  }

  /** Resolves when every change made so far is on disk (at once without a file or batching). */
  durable(): Promise<void> {
    return this.journal?.durable() ?? Promise.resolve();
  }

  /** Stops the sweep timer and writes what is pending (synchronously). */
  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.journal?.close();
  }

  /** Swept workloads that can still come back (for tests and debugging). */
  listSwept(): Workload[] {
    return [...this.swept.values()].map((g) => g.workload);
  }

  private allocate(): string {
    // A swept workload's address stays reserved: its sidecar may come back to it. The scan goes on
    // from the last allocation, so a burst of registrations is not quadratic.
    for (let n = 0; n < 65534; n++) {
      const i = 2 + ((this.nextAddress - 2 + n) % 65532);
      if ((i & 255) === 0 || (i & 255) === 255) continue;
      const a = `${this.base}.${i >> 8}.${i & 255}`;
      if (!this.liveAt.has(a) && !this.sweptAt.has(a)) {
        this.nextAddress = i + 1;
        return a;
      }
    }
    throw new Error(`no free workload address left in ${this.base}.0.0/16`);
  }

  /** Sets (or removes) a live workload, keeping the address index; true when there was one. */
  private setLive(key: string, w: Workload | undefined): boolean {
    const old = this.byKey.get(key);
    if (old && this.liveAt.get(old.address) === key) this.liveAt.delete(old.address);
    if (w) {
      this.byKey.set(key, w);
      this.liveAt.set(w.address, key);
    } else {
      this.byKey.delete(key);
    }
    return old !== undefined;
  }

  private setSwept(key: string, g: Swept | undefined): boolean {
    const old = this.swept.get(key);
    if (old) {
      const n = (this.sweptAt.get(old.workload.address) ?? 1) - 1;
      if (n > 0) this.sweptAt.set(old.workload.address, n);
      else this.sweptAt.delete(old.workload.address);
    }
    if (g) {
      this.swept.delete(key); // re-inserted last: the map's order is the sweep order
      this.swept.set(key, g);
      this.sweptAt.set(g.workload.address, (this.sweptAt.get(g.workload.address) ?? 0) + 1);
    } else {
      this.swept.delete(key);
    }
    return old !== undefined;
  }

  private state(): { workloads: Workload[]; swept: Swept[] } {
    return { workloads: this.list(), swept: [...this.swept.values()] };
  }

  /** Journals the current state of the given keys (durable on return unless batching). */
  private persist(...keys: string[]): void {
    if (!this.journal) return;
    const states: KeyState[] = keys.map((k) => ({ k, ...(this.byKey.has(k) ? { w: this.byKey.get(k) } : {}), ...(this.swept.has(k) ? { s: this.swept.get(k) } : {}) }));
    this.journal.record(states);
  }
}
