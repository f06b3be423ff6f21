// Persistence of the workload registry: a JSON snapshot (`<file>`, the format weftd always wrote)
// plus an append-only journal (`<file>.journal`) of each changed key's new state, one checksummed
// line per key. A change costs one small append and one fdatasync (or a share of one, batched),
// not a rewrite of the whole registry; the journal is folded into the snapshot once it outgrows it.
// Replaying the journal is idempotent (each line is a key's whole state), so a crash between
// writing a new snapshot and emptying the journal loses nothing; a torn last line (a crash in the
// middle of an append, never acknowledged) is dropped.
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Workload } from '../model/index.js';
import type { Swept } from './workloads.js';

/** One key's state after a change: live workload, swept record, neither (forgotten). */
export interface KeyState { k: string; w?: Workload; s?: Swept }

interface RegistryState { workloads: Workload[]; swept: Swept[] }

const sum = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);
const MIN_COMPACT_LINES = 1000;

export class RegistryJournal {
  private readonly path: string;
  private fd: number | undefined;
  private lines = 0;
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly file: string, private readonly batchWindowMs: number | undefined, private readonly snapshot: () => RegistryState, private readonly size: () => number) {
    this.path = `${file}.journal`;
  }

  /** The snapshot with the journal replayed over it. */
  load(): RegistryState {
    const live = new Map<string, Workload>();
    const swept = new Map<string, Swept>();
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Workload[] | Partial<RegistryState>;
      const file = Array.isArray(parsed) ? { workloads: parsed } : parsed; // older files: just the live array
      for (const w of file.workloads ?? []) live.set(`${w.namespace}/${w.name}`, w);
      for (const g of file.swept ?? []) swept.set(`${g.workload.namespace}/${g.workload.name}`, g);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') process.stderr.write(`weftd: ignoring unreadable workload registry ${this.file}: ${(e as Error).message}\n`);
    }
    let text = '';
    try { text = readFileSync(this.path, 'utf8'); } catch { /* no journal */ }
    const rows = text.split('\n');
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!row) continue;
      const body = row.slice(17);
      let st: KeyState | undefined;
      try { st = row[16] === ' ' && sum(body) === row.slice(0, 16) ? JSON.parse(body) as KeyState : undefined; } catch { st = undefined; }
      if (!st) {
        // Only the last line can be torn (a crash mid-append, never acknowledged); anything else is damage.
        if (i < rows.length - 1 && rows.slice(i + 1).some(Boolean)) process.stderr.write(`weftd: workload journal ${this.path}: line ${i + 1} is damaged; ignoring it and what follows\n`);
        break;
      }
      this.lines++;
      if (st.w) live.set(st.k, st.w); else live.delete(st.k);
      if (st.s) swept.set(st.k, st.s); else swept.delete(st.k);
    }
    return { workloads: [...live.values()], swept: [...swept.values()] };
  }

  /** Journals key states; written and fdatasynced before returning unless batching. */
  record(states: readonly KeyState[]): void {
    for (const st of states) {
      const body = JSON.stringify(st);
      this.pending.push(`${sum(body)} ${body}\n`);
    }
    if (this.batchWindowMs === undefined) this.flush();
    else this.timer ??= setTimeout(() => this.flushBatch(), this.batchWindowMs);
  }

  /** Resolves when everything recorded so far is on disk. */
  durable(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.timer ??= setTimeout(() => this.flushBatch(), this.batchWindowMs ?? 0);
    });
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushBatch();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** One batch: every pending line in one write, one fdatasync, then every waiter of the batch. */
  private flushBatch(): void {
    this.timer = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    try {
      this.flush();
      for (const w of waiters) w.resolve();
    } catch (e) {
      for (const w of waiters) w.reject(e as Error);
      if (!waiters.length) process.stderr.write(`weftd: writing the workload registry failed: ${(e as Error).message}\n`);
    }
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.join('');
    const count = this.pending.length;
    this.pending = [];
    if (this.fd === undefined) {
      mkdirSync(dirname(this.file), { recursive: true });
      this.fd = openSync(this.path, 'a');
      fsyncDir(dirname(this.file)); // the journal's own directory entry must survive a crash too
    }
    writeSync(this.fd, batch);
    fdatasyncSync(this.fd);
    this.lines += count;
    if (this.lines > Math.max(MIN_COMPACT_LINES, 2 * this.size())) this.compact(this.snapshot());
  }

  /** Folds the journal into a new snapshot (temp file, fsync, rename, directory fsync), then empties it. */
  private compact(state: RegistryState): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 1));
    const fd = openSync(tmp, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, this.file);
    fsyncDir(dirname(this.file));
    if (this.fd !== undefined) {
      ftruncateSync(this.fd, 0);
      fdatasyncSync(this.fd);
    }
    this.lines = 0;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
