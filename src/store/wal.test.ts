// The FileStore's write-ahead log: replay order, torn and stale records, preallocated zeros, reset.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from './file.js';
import { relPathOf, type JournalBody } from './file-io.js';
import { vs } from './conformance.js';
import { encodeRecord, scanLog, WAL_FILES, WAL_PREALLOC } from './wal.js';
import type { Resource } from '../model/index.js';
import type { StoreLoadProblem } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'weft-wal-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `s${++n}`);
const [WAL, WAL1] = WAL_FILES;
const vsKey = (name: string) => ({ kind: 'VirtualService', namespace: 'default', name });

/** A record as FileStore writes it: each resource's whole file (null = delete) and meta.json. */
function record(revision: number, puts: Record<string, string[]>, deletes: string[] = []): JournalBody {
  const file = (name: string, hosts: string[]): string => {
    const r: Resource = { ...vs(name, { hosts }), metadata: { name, namespace: 'default', resourceVersion: String(revision), generation: 1, uid: `u-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' } };
    return `${JSON.stringify(r)}\n`;
  };
  return {
    revision,
    writes: [
      ...Object.entries(puts).map(([name, hosts]) => ({ file: relPathOf(vsKey(name)), content: file(name, hosts) })),
      ...deletes.map((name) => ({ file: relPathOf(vsKey(name)), content: null })),
      { file: 'meta.json', content: `${JSON.stringify({ revision })}\n` },
    ],
  };
}

/** A closed store's data dir whose logs hold `bytes` at offset 0 (the rest of the preallocated zeros kept). */
async function dirWithLog(bytes: Buffer, second?: Buffer): Promise<string> {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await s.apply([{ op: 'put', resource: vs('base') }]);
  await s.close();
  for (const [name, b] of [[WAL, bytes], [WAL1, second]] as const) {
    if (!b) continue;
    const fh = await fs.open(join(dir, name), 'r+');
    try { await fh.write(b, 0, b.length, 0); } finally { await fh.close(); }
  }
  return dir;
}

async function openCollecting(dir: string): Promise<{ s: FileStore; problems: StoreLoadProblem[] }> {
  const problems: StoreLoadProblem[] = [];
  return { s: await FileStore.open(dir, { onProblem: (p) => problems.push(p) }), problems };
}

const hostsOf = async (s: FileStore, name: string): Promise<unknown> => ((await s.get(vsKey(name)))?.spec as { hosts?: unknown } | undefined)?.hosts;

void test('WAL: several records are replayed in order at open; zeros after the last one are the end, not a problem', async () => {
  const dir = await dirWithLog(Buffer.concat([
    encodeRecord(record(2, { a: ['a1'], b: ['b1'] })),
    encodeRecord(record(3, { a: ['a2'] }, ['base'])),
    encodeRecord(record(4, { c: ['c1'] }, ['b'])),
  ]));
  const { s, problems } = await openCollecting(dir);
  assert.deepEqual(problems, []);
  assert.deepEqual((await s.list()).map((r) => r.metadata.name), ['a', 'c']);
  assert.deepEqual(await hostsOf(s, 'a'), ['a2'], 'the later record wins');
  assert.equal(s.revision(), '4');
  await s.close();
  const wal = await fs.readFile(join(dir, WAL));
  assert.equal(wal.length, WAL_PREALLOC, 'the preallocated log is reused, never shrunk or replaced');
  assert.ok(wal.every((b) => b === 0), 'replayed records are cleared once their files are durable');
});

void test('WAL: records in both logs are replayed in revision order (the log being checkpointed holds the older ones)', async () => {
  const dir = await dirWithLog(
    Buffer.concat([encodeRecord(record(4, { a: ['a4'] })), encodeRecord(record(5, { c: ['c5'] }, ['b']))]),
    Buffer.concat([encodeRecord(record(2, { a: ['a2'], b: ['b2'] })), encodeRecord(record(3, { b: ['b3'], c: ['c3'] }))]),
  );
  const { s, problems } = await openCollecting(dir);
  assert.deepEqual(problems, []);
  assert.deepEqual((await s.list()).map((r) => `${r.metadata.name}=${((r.spec as { hosts: string[] }).hosts)[0]}`), ['a=a4', 'base=base', 'c=c5']);
  assert.equal(s.revision(), '5');
  await s.close();
  for (const name of WAL_FILES) assert.equal(scanLog(await fs.readFile(join(dir, name))).bodies.length, 0, `${name} is empty after a clean close`);
});

void test('WAL: a torn last record is discarded with a problem reported; the complete ones before it apply', async () => {
  const complete = encodeRecord(record(2, { a: ['a1'] }));
  const torn = encodeRecord(record(3, { a: ['torn'], t: ['t'] }));
  const dir = await dirWithLog(Buffer.concat([complete, torn.subarray(0, torn.length - 9)]));
  const { s, problems } = await openCollecting(dir);
  assert.deepEqual(await hostsOf(s, 'a'), ['a1']);
  assert.equal(await s.get(vsKey('t')), undefined);
  assert.equal(s.revision(), '2');
  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, join(dir, WAL));
  assert.match(problems[0].message, new RegExp(`incomplete journal record at byte ${complete.length}: .*torn`));
  // the store goes on from there, and the torn bytes never come back
  await s.apply([{ op: 'put', resource: vs('next') }]);
  await s.close();
  const again = await openCollecting(dir);
  assert.deepEqual(again.problems, []);
  assert.deepEqual((await again.s.list()).map((r) => r.metadata.name), ['a', 'base', 'next']);
  await again.s.close();
});

void test('WAL: damaged bytes in the middle stop the replay there; a stale record (revision not increasing) ends it silently', async () => {
  const r2 = encodeRecord(record(2, { a: ['a1'] }));
  const flipped = Buffer.from(encodeRecord(record(3, { a: ['a2'] })));
  flipped[flipped.length - 3] ^= 1;
  let dir = await dirWithLog(Buffer.concat([r2, flipped, encodeRecord(record(4, { a: ['a3'] }))]));
  let { s, problems } = await openCollecting(dir);
  assert.deepEqual(await hostsOf(s, 'a'), ['a1']);
  assert.match(problems[0]?.message ?? '', /checksum mismatch/);
  await s.close();
  // What a reset leaves behind if an append's tail is lost in a crash: an older record after a newer one.
  dir = await dirWithLog(Buffer.concat([encodeRecord(record(5, { a: ['new'] })), encodeRecord(record(2, { a: ['old'] }, ['base']))]));
  ({ s, problems } = await openCollecting(dir));
  assert.deepEqual(problems, []);
  assert.deepEqual(await hostsOf(s, 'a'), ['new']);
  assert.ok(await s.get(vsKey('base')), 'the stale record is not applied');
  await s.close();
});

void test('WAL: reopen after a reset; a batch larger than the preallocated log grows it and survives a crash', async () => {
  const dir = freshDir();
  let s = await FileStore.open(dir);
  await s.apply([{ op: 'put', resource: vs('a') }]);
  await s.close();
  s = await FileStore.open(dir);
  assert.deepEqual((await s.list()).map((r) => r.metadata.name), ['a']);
  await s.apply([{ op: 'put', resource: vs('a', { hosts: ['a2'] }) }]);
  const big = Array.from({ length: 40 }, (_, i) => ({ op: 'put' as const, resource: vs(`big${i}`, { hosts: [`h${i}`], pad: 'x'.repeat(40_000) }) }));
  await s.apply(big);
  const wal = await fs.readFile(join(dir, WAL1));
  assert.ok(wal.length > WAL_PREALLOC && wal.length % WAL_PREALLOC === 0, `grown in steps (${wal.length} bytes)`);
  assert.deepEqual(scanLog(wal).bodies.map((b) => b.revision), [3], 'the big batch went to the other, empty log');
  // A crash right after the acknowledgement, with none of the files written: a data dir with only the log.
  await fs.mkdir(`${dir}-crashed`);
  await fs.writeFile(join(`${dir}-crashed`, WAL), wal);
  await s.close();
  const { s: s2, problems } = await openCollecting(`${dir}-crashed`);
  assert.deepEqual(problems, []);
  assert.equal((await s2.list()).length, 40);
  assert.deepEqual(await hostsOf(s2, 'big39'), ['h39']);
  assert.equal(s2.revision(), '3');
  await s2.close();
});

void test('WAL: once the log passes its checkpoint size the files are made durable and the log starts over', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await s.apply(Array.from({ length: 8 }, (_, i) => ({ op: 'put' as const, resource: vs(`p${i}`, { pad: 'y'.repeat(40_000) }) })));
  await s.apply([{ op: 'put', resource: vs('after') }]); // runs after the first batch's files were written
  assert.deepEqual(scanLog(await fs.readFile(join(dir, WAL1))).bodies.map((b) => b.revision), [2], 'appends moved to the other log');
  const deadline = Date.now() + 10_000;
  while (scanLog(await fs.readFile(join(dir, WAL))).bodies.length > 0) {
    assert.ok(Date.now() < deadline, 'the full log is reset by the background checkpoint');
    await new Promise((r) => setImmediate(r));
  }
  await s.close();
});

void test('WAL: resource files written after the acknowledgement (not fsynced) and lost or emptied by a power cut are restored from the log', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await s.apply([{ op: 'put', resource: vs('a') }, { op: 'put', resource: vs('b') }]);
  await s.apply([{ op: 'put', resource: vs('a', { hosts: ['a2'] }) }, { op: 'delete', key: vsKey('b') }, { op: 'put', resource: vs('c') }]);
  await s.apply([{ op: 'put', resource: vs('c') }]); // a no-op batch: waits for the previous batch's files
  // What a power cut may leave of unsynced writes: an empty file, a missing file, a deleted file back.
  const crashed = `${dir}-crashed`;
  await fs.cp(dir, crashed, { recursive: true });
  await s.close();
  await fs.rm(join(crashed, 'LOCK'));
  await fs.writeFile(join(crashed, relPathOf(vsKey('a'))), '');
  await fs.rm(join(crashed, relPathOf(vsKey('c'))));
  await fs.writeFile(join(crashed, relPathOf(vsKey('b'))), '{"kind":"VirtualService","metadata":{"name":"b","namespace":"default","resourceVersion":"1"}}');
  await fs.writeFile(join(crashed, 'meta.json'), '');
  const { s: s2, problems } = await openCollecting(crashed);
  assert.deepEqual(problems, []);
  assert.deepEqual((await s2.list()).map((r) => r.metadata.name), ['a', 'c']);
  assert.deepEqual(await hostsOf(s2, 'a'), ['a2']);
  assert.equal(s2.revision(), '2');
  await s2.close();
});
