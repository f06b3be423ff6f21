// File primitives for FileStore: atomic replace (temp, fsync, rename, fsync dir), the resource
// files written behind the write-ahead log (LazyFiles), the checksummed journal of older versions,
// a pid lock file, and the key -> path mapping.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ResourceKey } from '../model/index.js';

export const JOURNAL = 'journal';
export const META = 'meta.json';
export const LOCK = 'LOCK';
export const OBJECTS = 'objects';
const JOURNAL_MAGIC = 'WEFTJ1';

/** Keeps [A-Za-z0-9.-]; everything else (and a leading dot) is %XX-encoded, so any name is one safe path segment. */
export function encodeSegment(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    const keep = /[A-Za-z0-9-]/.test(c) || (c === '.' && out.length > 0);
    out += keep ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out || '%';
}

/** Path of a resource file relative to the data dir. Cluster-scoped objects use `_cluster` (cannot collide: `_` is encoded). */
export function relPathOf(key: ResourceKey): string {
  return join(OBJECTS, encodeSegment(key.kind), key.namespace ? encodeSegment(key.namespace) : '_cluster', `${encodeSegment(key.name)}.json`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try { await h.sync(); } finally { await h.close(); }
}

/** Writes `content` to a temp file beside `path`, fsyncs it and renames it over `path`. The caller fsyncs the directory. */
export async function writeFileDurable(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const h = await fs.open(tmp, 'w');
  try {
    await h.writeFile(content, 'utf8');
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, path);
}

export async function unlinkIfExists(path: string): Promise<void> {
  try { await fs.unlink(path); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
}

/** One batch as it goes to disk: full new contents per file (null = delete), so replay is idempotent. */
export interface JournalBody {
  revision: number;
  writes: { file: string; content: string | null }[];
}

export function encodeJournal(body: JournalBody): string {
  const payload = JSON.stringify(body);
  const sum = createHash('sha256').update(payload).digest('hex');
  return `${JOURNAL_MAGIC} ${sum} ${Buffer.byteLength(payload)}\n${payload}`;
}

/** Returns the body of a completely written journal, or an error message for a torn or foreign one. */
export function decodeJournal(text: string): JournalBody | string {
  const nl = text.indexOf('\n');
  if (nl < 0) return 'no header line (torn write)';
  const [magic, sum, len] = text.slice(0, nl).split(' ');
  if (magic !== JOURNAL_MAGIC) return `unknown journal format "${text.slice(0, Math.min(nl, 20))}"`;
  const payload = text.slice(nl + 1);
  if (Buffer.byteLength(payload) !== Number(len)) return `payload is ${Buffer.byteLength(payload)} bytes, header says ${len} (torn write)`;
  if (createHash('sha256').update(payload).digest('hex') !== sum) return 'checksum mismatch (torn write)';
  try {
    const body = JSON.parse(payload) as JournalBody;
    if (typeof body.revision !== 'number' || !Array.isArray(body.writes)) return 'journal body has no revision/writes';
    return body;
  } catch (err) {
    return `journal body is not JSON: ${(err as Error).message}`;
  }
}

/** Applies a journal's writes; each file atomically, then every touched directory fsynced once. */
export async function applyJournal(dataDir: string, body: JournalBody): Promise<void> {
  const dirs = new Set<string>();
  for (const w of body.writes) {
    const path = join(dataDir, w.file);
    dirs.add(dirname(path));
    if (w.content === null) {
      await unlinkIfExists(path);
    } else {
      await ensureDir(dataDir, dirname(path));
      await writeFileDurable(path, w.content);
    }
  }
  for (const d of dirs) {
    try { await fsyncDir(d); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
  }
}

/**
 * The resource files behind the write-ahead log: written in place without fsync (the log holds every
 * batch since its last reset and is replayed at open, which rewrites any file a crash left torn),
 * remembered, and all made durable at once (syncTouched) before the log is reset.
 */
const WRITERS = 4;

export class LazyFiles {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();
  /** Directories known to exist (created or seen by this store): no check per write. */
  private readonly existing = new Set<string>();

  constructor(private readonly dataDir: string) {}

  /** Writes (or deletes) each file; a batch holds each file once, so they go in parallel. */
  async write(writes: readonly { file: string; content: string | null }[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < writes.length) await this.writeOne(writes[next++]);
    };
    // As many as libuv has threads: a bulk batch (thousands of files) is not one round trip per syscall.
    await Promise.all(Array.from({ length: Math.min(WRITERS, writes.length) }, worker));
  }

  private async writeOne(w: { file: string; content: string | null }): Promise<void> {
    const path = join(this.dataDir, w.file);
    const dir = dirname(path);
    this.dirs.add(dir);
    if (w.content === null) {
      await unlinkIfExists(path);
      return;
    }
    if (!this.existing.has(dir)) {
      await ensureDir(this.dataDir, dir);
      this.existing.add(dir);
    }
    this.files.add(path);
    await fs.writeFile(path, w.content, 'utf8');
  }

  /** Hands over what was written since the last call, for syncTouched (later writes are tracked anew). */
  takeTouched(): TouchedFiles {
    const t = { files: [...this.files], dirs: [...this.dirs] };
    this.files.clear();
    this.dirs.clear();
    return t;
  }
}

export interface TouchedFiles { files: string[]; dirs: string[] }

/** fsyncs the files and directories (a file deleted since is skipped: its directory's fsync covers it). */
export async function syncTouched(t: TouchedFiles): Promise<void> {
  // One at a time: a background checkpoint leaves the other libuv threads to the commits' fdatasyncs.
  for (const path of t.files) {
    let h: import('node:fs/promises').FileHandle;
    try { h = await fs.open(path, 'r'); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    try { await h.sync(); } finally { await h.close(); }
  }
  for (const d of t.dirs) {
    try { await fsyncDir(d); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
  }
}

/** mkdir -p, fsyncing each parent whose entry list changed so a new directory survives a crash. */
export async function ensureDir(root: string, dir: string): Promise<void> {
  try {
    await fs.access(dir);
    return;
  } catch { /* create below */ }
  const parent = dirname(dir);
  if (parent !== dir && parent.startsWith(root) && parent !== root) await ensureDir(root, parent);
  try { await fs.mkdir(dir); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
  await fsyncDir(parent);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data dir's lock file; a lock left by a dead process is taken over. */
export async function acquireLock(dataDir: string, heldInProcess: boolean): Promise<void> {
  const path = join(dataDir, LOCK);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await fs.readFile(path, 'utf8').catch(() => '')).trim());
    const ours = pid === process.pid;
    if ((ours && heldInProcess) || (!ours && pid > 0 && pidAlive(pid))) {
      throw new Error(`data dir ${dataDir} is in use by process ${pid} (lock file ${path}); stop it first, or remove the lock if that process is not weft`);
    }
    await unlinkIfExists(path);
  }
  throw new Error(`could not take the lock ${path}`);
}

/** Every file under dir, recursively (paths relative to dir). */
export async function walkFiles(dir: string, rel = ''): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(join(dir, rel), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    const r = join(rel, e.name);
    if (e.isDirectory()) out.push(...await walkFiles(dir, r));
    else out.push(r);
  }
  return out;
}
