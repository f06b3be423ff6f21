// The FileStore's write-ahead log: one file, preallocated with real zeros when it is created and
// reused forever after, so committing a batch is one write inside the file's allocated size and one
// fdatasync. No file is created or renamed and the size does not change, so ext4 has no metadata to
// journal for it (writing into fallocate()d space would: unwritten extents get converted).
//
// Records are self-delimiting and checksummed (`WEFTW1 <sha256 hex> <payload bytes>\n<payload>`,
// the payload a JournalBody) and their revisions strictly increase. A scan stops at the first zero
// byte (the end), at a torn or damaged record (reported), or at a record whose revision does not
// increase (left over from before the last reset: only reachable when an append's tail was lost).
//
// Reset (after every file the log covers is durable): the first HEAD_ZERO bytes are zeroed and
// fdatasynced on their own, then the rest of what was written. A crash during the second write can
// therefore never expose an older prefix of records (which would roll files back); the next
// append's fdatasync flushes it. Not safe for concurrent calls: FileStore calls it from its queue.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, unlinkIfExists, type JournalBody } from './file-io.js';

/** FileStore's two logs (data dir relative): appends go to one while the other is checkpointed. */
export const WAL_FILES = ['wal', 'wal.1'] as const;
const MAGIC = 'WEFTW1';
/** Size of a new log, and the step it grows by when a record does not fit. */
export const WAL_PREALLOC = 1 << 20;
const HEAD_ZERO = 4096;
/** Longest header line: magic, 64 hex digits, a length, separators. */
const HEADER_MAX = 96;

export function encodeRecord(body: JournalBody): Buffer {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const sum = createHash('sha256').update(payload).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${sum} ${payload.length}\n`, 'latin1'), payload]);
}

/** The record at `at`: its body and length, or why it is not a complete record. */
export function decodeRecordAt(buf: Buffer, at: number): { body: JournalBody; length: number } | string {
  const nl = buf.indexOf(10, at);
  if (nl < 0 || nl - at > HEADER_MAX) return 'no complete header line';
  const [magic, sum, len, extra] = buf.toString('latin1', at, nl).split(' ');
  if (magic !== MAGIC || extra !== undefined || !/^[0-9a-f]{64}$/.test(sum ?? '') || !/^\d{1,10}$/.test(len ?? '')) {
    return `not a record header "${buf.toString('latin1', at, Math.min(nl, at + 24)).replace(/[^\x20-\x7e]/g, '?')}"`;
  }
  const end = nl + 1 + Number(len);
  if (end > buf.length) return `payload of ${len} bytes runs past the end of the file`;
  const payload = buf.subarray(nl + 1, end);
  if (createHash('sha256').update(payload).digest('hex') !== sum) return 'checksum mismatch';
  try {
    const body = JSON.parse(payload.toString('utf8')) as JournalBody;
    if (!body || typeof body.revision !== 'number' || !Array.isArray(body.writes)) return 'record has no revision/writes';
    return { body, length: end - at };
  } catch (err) {
    return `record is not JSON: ${(err as Error).message}`;
  }
}

export interface LogScan {
  /** Every complete record before the end, in order. */
  bodies: JournalBody[];
  /** Offset just past the last complete record. */
  end: number;
  /** Set when the scan stopped at a torn or damaged record (at `end`) rather than at zeros. */
  torn?: string;
}

export function scanLog(buf: Buffer): LogScan {
  const bodies: JournalBody[] = [];
  let at = 0;
  while (at < buf.length && buf[at] !== 0) {
    const r = decodeRecordAt(buf, at);
    if (typeof r === 'string') return { bodies, end: at, torn: r };
    if (bodies.length > 0 && r.body.revision <= bodies[bodies.length - 1].revision) break;
    bodies.push(r.body);
    at += r.length;
  }
  return { bodies, end: at };
}

/** Offset just past the last non-zero byte. */
function dirtyLength(buf: Buffer): number {
  let n = buf.length;
  while (n > 0 && buf[n - 1] === 0) n--;
  return n;
}

export class WriteAheadLog {
  private constructor(readonly path: string, private fh: FileHandle, private size: number, private end: number, private dirtyEnd: number) {}

  /** Opens the log (creating it preallocated if missing) and scans it; replay the scan, then reset(). */
  static async open(path: string): Promise<{ log: WriteAheadLog; scan: LogScan }> {
    let fh: FileHandle;
    try {
      fh = await fs.open(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await createZeroed(path, WAL_PREALLOC);
      fh = await fs.open(path, 'r+');
    }
    try {
      const buf = await fh.readFile();
      const scan = scanLog(buf);
      return { log: new WriteAheadLog(path, fh, buf.length, scan.end, dirtyLength(buf)), scan };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Bytes of records since the last reset. */
  get used(): number {
    return this.end;
  }

  /** True when a record of `bytes` can be appended without growing the file. */
  fits(bytes: number): boolean {
    return this.end + bytes <= this.size;
  }

  /**
   * Appends a record and fdatasyncs it: the commit point. If the write or sync fails, the record's
   * bytes are zeroed again (so a later crash cannot replay a batch that was reported as failed) and
   * the error is rethrown; if that fails too, the log's state is unknown: `LogDamagedError`.
   */
  async append(record: Buffer): Promise<void> {
    const at = this.end;
    const grow = at + record.length > this.size;
    try {
      await this.fh.write(record, 0, record.length, at);
      if (grow) {
        // Past the preallocated size (a batch larger than the free space): pad with zeros to the next
        // step, so the appends after it are overwrites again. This one commit changes the size.
        const size = Math.ceil((at + record.length + 1) / WAL_PREALLOC) * WAL_PREALLOC;
        await writeZeros(this.fh, at + record.length, size - at - record.length);
        this.size = size;
      }
      await this.fh.datasync();
    } catch (err) {
      try {
        await writeZeros(this.fh, at, record.length);
        await this.fh.datasync();
      } catch (again) {
        throw new LogDamagedError(`${(err as Error).message}; clearing the record failed too: ${(again as Error).message}`);
      }
      throw err;
    }
    this.end = at + record.length;
    this.dirtyEnd = Math.max(this.dirtyEnd, this.end);
  }

  /** Empties the log. Only call once every file its records cover is durable. Throws LogDamagedError. */
  async reset(): Promise<void> {
    if (this.dirtyEnd === 0) return;
    try {
      const head = Math.min(HEAD_ZERO, this.dirtyEnd);
      await writeZeros(this.fh, 0, head);
      await this.fh.datasync(); // from here on the log reads as empty, whatever happens to the rest
      this.end = 0;
      if (this.dirtyEnd > head) await writeZeros(this.fh, head, this.dirtyEnd - head);
      this.dirtyEnd = 0;
    } catch (err) {
      throw new LogDamagedError((err as Error).message);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** The log could not be brought to a known state; the store must be reopened (which replays it). */
export class LogDamagedError extends Error {}

async function writeZeros(fh: FileHandle, at: number, length: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(length, WAL_PREALLOC));
  for (let done = 0; done < length;) {
    const n = Math.min(zeros.length, length - done);
    await fh.write(zeros, 0, n, at + done);
    done += n;
  }
}

/** Creates a file of `size` zero bytes durably (temp, fsync, rename, directory fsync). */
async function createZeroed(path: string, size: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await unlinkIfExists(tmp);
  const fh = await fs.open(tmp, 'wx');
  try {
    await writeZeros(fh, 0, size);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, path);
  await fsyncDir(dirname(path));
}
