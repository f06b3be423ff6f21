// The embedded default ConfigStore: one JSON file per resource under a data dir, behind a
// write-ahead log (wal.ts). A batch is committed (acknowledged) once its checksummed record is
// appended to the preallocated log and fdatasynced: one write and one fdatasync, no metadata change.
// Its resource files are written after the acknowledgement and before the next batch starts,
// without fsync. There are two logs: once the one being appended to has grown past
// CHECKPOINT_BYTES, appends move to the other (empty) one while, in the background, every file the
// full one covers is fsynced and then it is reset; so a checkpoint never sits on the commit path
// unless the second log fills up before it ends. Opening replays the complete records of both logs
// in revision order and discards a torn last one, so a crash at any moment leaves either the whole
// batch or none of it.
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Resource, ResourceKey } from '../model/index.js';
import {
  acquireLock, applyJournal, decodeJournal, JOURNAL, LazyFiles, LOCK, META, OBJECTS,
  fsyncDir, relPathOf, syncTouched, unlinkIfExists, walkFiles, type JournalBody,
} from './file-io.js';
import { SerialQueue, StoreState, WatchHub, storeKeyOf, type BatchPlan, type StoreView } from './state.js';
import { StoreUnavailableError, type ConfigStore, type StoreLoadProblem, type StoreOp, type WatchListener } from './types.js';
import { encodeRecord, LogDamagedError, WAL_FILES, WriteAheadLog, type LogScan } from './wal.js';

/** Log size past which appends move to the other log and this one is checkpointed (files fsynced, log reset). */
const CHECKPOINT_BYTES = 256 * 1024;

export interface FileStoreOptions {
  /** Told about every corrupt file or torn log record skipped at open (default: a line on stderr). */
  onProblem?: (problem: StoreLoadProblem) => void;
  onWatchError?: (err: unknown) => void;
  /** Log size that triggers a rotation and checkpoint (default 256 KiB; tests use small ones). */
  checkpointBytes?: number;
}

/** Data dirs opened by this process, so a second open of the same dir fails instead of corrupting it. */
const openDirs = new Set<string>();

export class FileStore implements ConfigStore {
  private readonly state = new StoreState();
  private readonly queue = new SerialQueue();
  private readonly hub: WatchHub;
  private readonly problemList: StoreLoadProblem[] = [];
  private broken: string | undefined;
  private closed = false;
  /** The last batch's resource-file writes, finished before the next batch (or close) goes on. */
  private filesPending: Promise<void> | undefined;
  private readonly files: LazyFiles;
  /** Batches are appended to logs[active]; the other one is empty or being checkpointed. */
  private logs: WriteAheadLog[] = [];
  private active = 0;
  /** The background checkpoint of the inactive log, while it runs. */
  private checkpointing: Promise<void> | undefined;

  private constructor(readonly dataDir: string, private readonly opts: FileStoreOptions) {
    this.files = new LazyFiles(dataDir);
    this.hub = new WatchHub(opts.onWatchError ?? ((err) => { console.error('weft store: watch listener threw:', err); }));
  }

  /** Opens (creating if needed) a data dir: takes its lock, replays the log, loads every resource. */
  static async open(dataDir: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const dir = resolve(dataDir);
    await fs.mkdir(join(dir, OBJECTS), { recursive: true });
    await acquireLock(dir, openDirs.has(dir));
    openDirs.add(dir);
    const store = new FileStore(dir, opts);
    try {
      await store.recover();
      await store.load();
    } catch (err) {
      for (const log of store.logs) await log.close().catch(() => undefined);
      await store.releaseLock();
      throw err;
    }
    return store;
  }

  /** Corrupt files and torn log records found at open (each was skipped). */
  get problems(): readonly StoreLoadProblem[] {
    return this.problemList;
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
    // Checked at submission: applies queued before close() still complete.
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    return this.queue.run(async () => {
      await this.settleFiles();
      if (this.broken) throw new StoreUnavailableError(this.broken);
      const plan = this.state.plan(ops);
      if (plan.changes.length > 0) this.filesPending = this.applyFiles(await this.commitRecord(plan));
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
    if (this.closed) return;
    this.closed = true;
    await this.queue.run(async () => {
      await this.settleFiles();
      await this.checkpointing;
      // Leaves nothing to replay; if it fails, the next open replays the logs instead.
      if (!this.broken) await this.checkpointAll().catch(() => undefined);
      for (const log of this.logs) await log.close().catch(() => undefined);
    });
    this.hub.clear();
    await this.releaseLock();
  }

  private async releaseLock(): Promise<void> {
    openDirs.delete(this.dataDir);
    await unlinkIfExists(join(this.dataDir, LOCK)).catch(() => undefined);
  }

  private problem(file: string, message: string): void {
    const p = { file, message };
    this.problemList.push(p);
    (this.opts.onProblem ?? ((x: StoreLoadProblem) => { console.warn(`weft store: skipped ${x.file}: ${x.message}`); }))(p);
  }

  /** Appends the batch to the log (the commit point); returns it for applyFiles. */
  private async commitRecord(plan: BatchPlan): Promise<JournalBody> {
    const body: JournalBody = {
      revision: plan.revision,
      writes: [
        ...plan.changes.map((c) => ({ file: relPathOf(c.key), content: c.after ? `${JSON.stringify(c.after, null, 2)}\n` : null })),
        { file: META, content: `${JSON.stringify({ revision: plan.revision })}\n` },
      ],
    };
    const record = encodeRecord(body);
    const log = (): WriteAheadLog => this.logs[this.active];
    try {
      // Rare (rotation after a batch keeps the log well below its size): a batch too large for the
      // space left. The other log, once empty, has its preallocated space to offer before growing.
      if (!log().fits(record.length) && log().used > 0) await this.rotate();
      // Before the record is durable nothing has happened: a failure here leaves the store as it was.
      await log().append(record);
    } catch (err) {
      if (err instanceof LogDamagedError) this.broken ??= `the write-ahead log ${log().path} could not be written (${err.message}); reopen the store to replay it`;
      throw err;
    }
    return body;
  }

  /** Writes a committed batch to the resource files, then rotates the logs if this one is large; never rejects. */
  private async applyFiles(body: JournalBody): Promise<void> {
    try {
      await this.files.write(body.writes);
      if (this.logs[this.active].used >= (this.opts.checkpointBytes ?? CHECKPOINT_BYTES) && !this.checkpointing) await this.rotate();
    } catch (err) {
      // The batch is committed (in the log) but the files are behind: refuse writes until reopened, which replays it.
      this.broken ??= `a write to ${this.dataDir} failed after the batch was journaled (${(err as Error).message}); `
        + 'reopen the store to replay the journal';
    }
  }

  /**
   * Moves appends to the other log (waiting for its checkpoint if one still runs) and checkpoints
   * this one in the background: every file written since the last rotation (exactly the files of
   * its batches, all written by now) is fsynced, then the log is reset. Only called while no batch
   * is in flight: inside the queue, or from applyFiles, which the next batch and close() await.
   */
  private async rotate(): Promise<void> {
    await this.checkpointing;
    if (this.broken) throw new StoreUnavailableError(this.broken);
    const full = this.logs[this.active];
    const touched = this.files.takeTouched();
    this.active = 1 - this.active;
    this.checkpointing = (async () => {
      try {
        await syncTouched(touched);
        await full.reset();
      } catch (err) {
        this.broken ??= `making the files in ${this.dataDir} durable failed (${(err as Error).message}); reopen the store to replay its write-ahead log`;
      } finally {
        this.checkpointing = undefined;
      }
    })();
  }

  /** Makes every file durable and empties both logs (the caller has awaited any background checkpoint). */
  private async checkpointAll(): Promise<void> {
    await syncTouched(this.files.takeTouched());
    for (const log of this.logs) await log.reset();
  }

  private async settleFiles(): Promise<void> {
    const pending = this.filesPending;
    this.filesPending = undefined;
    await pending;
  }

  private async recover(): Promise<void> {
    for (const f of await walkFiles(this.dataDir)) {
      if (f.endsWith('.tmp')) await unlinkIfExists(join(this.dataDir, f)); // torn writes: never renamed into place
    }
    await this.recoverJournal();
    const scans: LogScan[] = [];
    for (const name of WAL_FILES) {
      const { log, scan } = await WriteAheadLog.open(join(this.dataDir, name));
      this.logs.push(log);
      scans.push(scan);
    }
    await this.replay(scans);
  }

  /** Replays both logs' complete records (their files' final contents, durably), then resets them. */
  private async replay(scans: LogScan[]): Promise<void> {
    scans.forEach((scan, i) => {
      if (scan.torn) this.problem(this.logs[i].path, `discarded an incomplete journal record at byte ${scan.end}: ${scan.torn} (torn write)`);
    });
    // Revisions order the records across the two logs (the older log is the one that was being checkpointed).
    const bodies = scans.flatMap((s) => s.bodies).sort((a, b) => a.revision - b.revision);
    // Each write is a file's whole new content: the last one per file is the state after the records.
    const last = new Map<string, string | null>();
    for (const body of bodies) {
      for (const w of body.writes) {
        last.delete(w.file);
        last.set(w.file, w.content);
      }
    }
    if (last.size > 0) await applyJournal(this.dataDir, { revision: 0, writes: [...last].map(([file, content]) => ({ file, content })) });
    for (const log of this.logs) await log.reset();
  }

  /** The single-batch journal of versions before the log: applied if complete, then removed. */
  private async recoverJournal(): Promise<void> {
    const path = join(this.dataDir, JOURNAL);
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const body = decodeJournal(text);
    if (typeof body === 'string') {
      this.problem(path, `discarded an incomplete journal: ${body}`);
    } else {
      await applyJournal(this.dataDir, body);
    }
    await fs.unlink(path);
    await fsyncDir(this.dataDir);
  }

  private async load(): Promise<void> {
    let revision = 0;
    try {
      const meta = JSON.parse(await fs.readFile(join(this.dataDir, META), 'utf8')) as { revision?: unknown };
      if (typeof meta.revision === 'number' && Number.isSafeInteger(meta.revision)) revision = meta.revision;
      else this.problem(join(this.dataDir, META), 'no numeric "revision"; recomputed from the resources');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem(join(this.dataDir, META), `unreadable (${(err as Error).message}); recomputed from the resources`);
    }
    for (const rel of (await walkFiles(join(this.dataDir, OBJECTS))).sort()) {
      const file = join(this.dataDir, OBJECTS, rel);
      if (!rel.endsWith('.json')) {
        this.problem(file, 'not a resource file (expected *.json)');
        continue;
      }
      const r = await this.readResource(file);
      if (!r) continue;
      const rv = Number(r.metadata.resourceVersion);
      revision = Math.max(revision, rv);
      this.state.load(r);
    }
    this.state.revision = revision;
  }

  private async readResource(file: string): Promise<Resource | undefined> {
    let r: Resource;
    try {
      r = JSON.parse(await fs.readFile(file, 'utf8')) as Resource;
    } catch (err) {
      this.problem(file, `not valid JSON: ${(err as Error).message}`);
      return undefined;
    }
    if (!r || typeof r !== 'object' || typeof r.kind !== 'string' || typeof r.metadata?.name !== 'string') {
      this.problem(file, 'not a resource (needs kind and metadata.name)');
      return undefined;
    }
    if (!/^\d+$/.test(String(r.metadata.resourceVersion ?? ''))) {
      this.problem(file, `metadata.resourceVersion "${r.metadata.resourceVersion}" is not a revision number`);
      return undefined;
    }
    const expected = join(this.dataDir, relPathOf(storeKeyOf(r)));
    if (expected !== file) {
      this.problem(file, `holds ${r.kind} ${r.metadata.namespace ?? ''}/${r.metadata.name}, whose file would be ${expected}`);
      return undefined;
    }
    return r;
  }
}

/** Convenience for `FileStore.open`. */
export function openFileStore(dataDir: string, opts?: FileStoreOptions): Promise<FileStore> {
  return FileStore.open(dataDir, opts);
}
