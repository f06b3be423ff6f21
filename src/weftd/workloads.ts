// Live workloads registered by `weft run` (Weft's pods): address allocation, persistence, liveness.
//
// A workload stays registered while its sidecar holds an ADS stream to weftd. When the stream ends
// and the sidecar does not come back within `graceMs`, the workload is removed from every endpoint
// set, so replicas that died without deregistering stop receiving traffic. A swept workload is
// remembered (persisted too): if its sidecar reconnects later (a network blip longer than the grace,
// weftd restarted), it is registered again as it was, at its address, with no new `weft run`.
// Deregistration (`weft run` stopping) forgets it for good.
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Workload } from '../model/index.js';

export interface WorkloadRegistryOptions {
  /** File the registry persists to (JSON, written atomically); none = memory only. */
  file?: string;
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
interface Swept { workload: Workload; sweptAt: number }

/** The registry file: the live workloads and the swept ones (older files hold just the live array). */
interface RegistryFile { workloads: Workload[]; swept?: Swept[] }

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

  constructor(private readonly opts: WorkloadRegistryOptions = {}) {
    super();
    this.base = opts.addressBase ?? '127.20';
    if (!/^127\.\d{1,3}$/.test(this.base)) throw new Error(`address base must look like 127.N, got ${this.base}`);
    this.graceMs = opts.graceMs ?? 15_000;
    this.clock = opts.clock ?? Date.now;
    this.load();
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
    const taken = [...this.byKey.values()].find((w) => w.address === address && `${w.namespace}/${w.name}` !== key);
    if (taken) throw new Error(`address ${address} is already used by ${taken.namespace}/${taken.name}`);
    const w: Workload = { ...input, address, labels: { ...input.labels }, ports: { ...input.ports } };
    this.byKey.set(key, w);
    this.swept.delete(key);
    if (!existing) this.awaitingFirstConnect.add(key);
    this.disconnectedAt.set(key, this.clock()); // until its sidecar connects
    this.persist();
    this.emit('change');
    return w;
  }

  deregister(namespace: string, name: string): boolean {
    const key = `${namespace}/${name}`;
    const had = this.byKey.delete(key);
    const wasSwept = this.swept.delete(key);
    this.disconnectedAt.delete(key);
    this.awaitingFirstConnect.delete(key);
    if (had) this.emit('change');
    if (had || wasSwept) this.persist();
    return had;
  }

  setReady(namespace: string, name: string, ready: boolean): void {
    const w = this.byKey.get(`${namespace}/${name}`);
    if (!w || w.ready === ready) return;
    w.ready = ready;
    this.persist();
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
    if ([...this.byKey.values()].some((w) => w.address === address)) return; // reused meanwhile: not ours to give back
    this.swept.delete(key);
    this.byKey.set(key, gone.workload);
    this.persist();
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
    for (const [key, since] of this.disconnectedAt) {
      if (now - since >= (this.awaitingFirstConnect.has(key) ? firstGrace : this.graceMs)) {
        this.disconnectedAt.delete(key);
        const w = this.byKey.get(key);
        // One that never connected has no sidecar to come back with: not remembered.
        if (w && !this.awaitingFirstConnect.has(key)) this.swept.set(key, { workload: w, sweptAt: now });
        this.awaitingFirstConnect.delete(key);
        if (this.byKey.delete(key)) changed = true;
      }
    }
    let forgot = false;
    const keep = this.opts.rememberSweptMs ?? 24 * 3600_000;
    for (const [key, g] of this.swept) {
      if (now - g.sweptAt < keep && this.swept.size <= MAX_SWEPT) continue;
      this.swept.delete(key); // oldest first (insertion order)
      forgot = true;
    }
    if (changed || forgot) this.persist();
    if (changed) this.emit('change');
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  /** Swept workloads that can still come back (for tests and debugging). */
  listSwept(): Workload[] {
    return [...this.swept.values()].map((g) => g.workload);
  }

  private allocate(): string {
    // A swept workload's address stays reserved: its sidecar may come back to it.
    const used = new Set([...this.byKey.values(), ...this.listSwept()].map((w) => w.address));
    for (let i = 2; i < 65534; i++) {
      const a = `${this.base}.${i >> 8}.${i & 255}`;
      if ((i & 255) === 0 || (i & 255) === 255) continue;
      if (!used.has(a)) return a;
    }
    throw new Error(`no free workload address left in ${this.base}.0.0/16`);
  }

  private load(): void {
    if (!this.opts.file) return;
    let text: string;
    try {
      text = readFileSync(this.opts.file, 'utf8');
    } catch {
      return; // first start
    }
    try {
      const parsed = JSON.parse(text) as Workload[] | RegistryFile;
      const file: RegistryFile = Array.isArray(parsed) ? { workloads: parsed } : parsed;
      for (const w of file.workloads ?? []) this.byKey.set(`${w.namespace}/${w.name}`, w);
      for (const g of file.swept ?? []) this.swept.set(`${g.workload.namespace}/${g.workload.name}`, g);
    } catch (e) {
      process.stderr.write(`weftd: ignoring unreadable workload registry ${this.opts.file}: ${(e as Error).message}\n`);
    }
  }

  private persist(): void {
    const file = this.opts.file;
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    const content: RegistryFile = { workloads: this.list(), swept: [...this.swept.values()] };
    writeFileSync(tmp, JSON.stringify(content, null, 1));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  }
}
