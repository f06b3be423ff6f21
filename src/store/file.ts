// The embedded default ConfigStore: one JSON file per resource under a data dir.
// A batch is made durable as one checksummed journal first (the commit point: the batch is
// acknowledged then), then applied to the resource files, then the journal is removed; that second
// part runs after the acknowledgement and before the next batch starts. Opening replays a complete journal and discards a torn
// one, so a crash at any moment leaves either the whole batch or none of it.
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Resource, ResourceKey } from '../model/index.js';
import {
  acquireLock, applyJournal, decodeJournal, encodeJournal, fsyncDir, JOURNAL, LOCK, META, OBJECTS,
  relPathOf, unlinkIfExists, walkFiles, writeFileDurable, type JournalBody,
} from './file-io.js';
import { SerialQueue, StoreState, WatchHub, storeKeyOf, type BatchPlan, type StoreView } from './state.js';
import { StoreUnavailableError, type ConfigStore, type StoreLoadProblem, type StoreOp, type WatchListener } from './types.js';

export interface FileStoreOptions {
  /** Told about every corrupt file or torn journal skipped at open (default: a line on stderr). */
  onProblem?: (problem: StoreLoadProblem) => void;
  onWatchError?: (err: unknown) => void;
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

  private constructor(readonly dataDir: string, private readonly opts: FileStoreOptions) {
    this.hub = new WatchHub(opts.onWatchError ?? ((err) => { console.error('weft store: watch listener threw:', err); }));
  }

  /** Opens (creating if needed) a data dir: takes its lock, recovers the journal, loads every resource. */
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
      await store.releaseLock();
      throw err;
    }
    return store;
  }

  /** Corrupt files and torn journals found at open (each was skipped). */
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
      if (plan.changes.length > 0) this.filesPending = this.applyFiles(await this.writeJournal(plan));
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
    await this.queue.run(() => this.settleFiles());
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

  /** Makes the batch durable as a journal (the commit point); returns it for applyFiles. */
  private async writeJournal(plan: BatchPlan): Promise<JournalBody> {
    const body: JournalBody = {
      revision: plan.revision,
      writes: [
        ...plan.changes.map((c) => ({ file: relPathOf(c.key), content: c.after ? `${JSON.stringify(c.after, null, 2)}\n` : null })),
        { file: META, content: `${JSON.stringify({ revision: plan.revision })}\n` },
      ],
    };
    // Before the journal is durable nothing has happened: a failure here leaves the store as it was.
    await writeFileDurable(join(this.dataDir, JOURNAL), encodeJournal(body));
    await fsyncDir(this.dataDir);
    return body;
  }

  /** Writes a journaled batch to the resource files and removes the journal; never rejects. */
  private async applyFiles(body: JournalBody): Promise<void> {
    try {
      await applyJournal(this.dataDir, body);
      await fs.unlink(join(this.dataDir, JOURNAL));
      await fsyncDir(this.dataDir);
    } catch (err) {
      // The batch is committed (journaled) but the files are behind: refuse writes until reopened, which replays it.
      this.broken = `a write to ${this.dataDir} failed after the batch was journaled (${(err as Error).message}); `
        + 'reopen the store to replay the journal';
    }
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
