import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from './file.js';
import { encodeJournal, relPathOf } from './file-io.js';
import { runStoreConformance, vs } from './conformance.js';
import { StoreUnavailableError, type ConfigStore, type StoreLoadProblem } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'weft-filestore-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `s${++n}`);

runStoreConformance('FileStore', () => FileStore.open(freshDir()), {
  reopen: async (s: ConfigStore) => {
    await s.close();
    return FileStore.open((s as FileStore).dataDir);
  },
});

const vsKey = (name: string) => ({ kind: 'VirtualService', namespace: 'default', name });

void test('FileStore: corrupt and misplaced files are reported by path and skipped; the rest loads', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await s.apply([{ op: 'put', resource: vs('good') }, { op: 'put', resource: vs('bad') }, { op: 'put', resource: vs('moved') }]);
  await s.close();
  const badPath = join(dir, relPathOf(vsKey('bad')));
  await fs.writeFile(badPath, '{"apiVersion": "networking.istio.io/v1", "kind": "Virt');
  await fs.rename(join(dir, relPathOf(vsKey('moved'))), join(dir, relPathOf(vsKey('elsewhere'))));
  const problems: StoreLoadProblem[] = [];
  const s2 = await FileStore.open(dir, { onProblem: (p) => problems.push(p) });
  assert.deepEqual((await s2.list()).map((r) => r.metadata.name), ['good']);
  assert.equal(problems.length, 2);
  assert.ok(problems.some((p) => p.file === badPath && /not valid JSON/.test(p.message)));
  assert.ok(problems.some((p) => p.file.endsWith('elsewhere.json') && /moved/.test(p.message)));
  assert.equal(s2.problems.length, 2);
  assert.equal(s2.revision(), '1');
  // the corrupt key can be written again
  await s2.apply([{ op: 'put', resource: vs('bad') }]);
  await s2.close();
  const s3 = await FileStore.open(dir, { onProblem: () => undefined });
  assert.ok(await s3.get(vsKey('bad')));
  await s3.close();
});

void test('FileStore: a complete journal is replayed at open, a torn one is discarded', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await s.apply([{ op: 'put', resource: vs('base') }]);
  await s.close();
  const replayed = { ...vs('fromjournal'), metadata: { name: 'fromjournal', namespace: 'default', resourceVersion: '2', generation: 1, uid: 'u', creationTimestamp: '2026-01-01T00:00:00Z' } };
  const body = {
    revision: 2,
    writes: [
      { file: relPathOf(vsKey('fromjournal')), content: JSON.stringify(replayed) },
      { file: relPathOf(vsKey('base')), content: null },
      { file: 'meta.json', content: '{"revision":2}' },
    ],
  };
  await fs.writeFile(join(dir, 'journal'), encodeJournal(body));
  const s2 = await FileStore.open(dir);
  assert.deepEqual((await s2.list()).map((r) => r.metadata.name), ['fromjournal']);
  assert.equal(s2.revision(), '2');
  await s2.close();
  await assert.rejects(fs.access(join(dir, 'journal')));

  const torn = encodeJournal({ ...body, revision: 3, writes: [{ file: relPathOf(vsKey('torn')), content: JSON.stringify(vs('torn')) }] });
  await fs.writeFile(join(dir, 'journal'), torn.slice(0, torn.length - 7));
  await fs.writeFile(join(dir, `${relPathOf(vsKey('half'))}.tmp`), '{"kind":');
  const problems: StoreLoadProblem[] = [];
  const s3 = await FileStore.open(dir, { onProblem: (p) => problems.push(p) });
  assert.deepEqual((await s3.list()).map((r) => r.metadata.name), ['fromjournal']);
  assert.equal(s3.revision(), '2');
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /incomplete journal.*torn/);
  await s3.close();
  await assert.rejects(fs.access(join(dir, `${relPathOf(vsKey('half'))}.tmp`)), 'stray temp files are removed');
});

void test('FileStore: a data dir cannot be opened twice; a stale lock from a dead process is taken over', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await assert.rejects(FileStore.open(dir), /in use by process/);
  await s.close();
  await fs.writeFile(join(dir, 'LOCK'), '999999999\n');
  const s2 = await FileStore.open(dir);
  await s2.close();
});

void test('FileStore: names that are not path-safe round-trip through a restart', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  const names = ['..', '.hidden', 'a/b', 'ünï', 'x%2F'];
  await s.apply(names.map((name) => ({ op: 'put' as const, resource: vs(name, { hosts: [name] }, 'we/ird') })));
  await s.close();
  const s2 = await FileStore.open(dir);
  assert.deepEqual((await s2.list()).map((r) => r.metadata.name).sort(), [...names].sort());
  assert.deepEqual((await s2.get({ kind: 'VirtualService', namespace: 'we/ird', name: 'a/b' }))?.spec, { hosts: ['a/b'] });
  await s2.close();
  for (const f of await fs.readdir(join(dir, 'objects', 'VirtualService'))) assert.doesNotMatch(f, /\//);
});

void test('FileStore: a disk failure after the journal is durable (the commit point) refuses further writes; reopening replays the batch', async () => {
  const dir = freshDir();
  const s = await FileStore.open(dir);
  await s.apply([{ op: 'put', resource: vs('first') }]);
  // A directory where the resource file must go makes the rename fail after the journal was written.
  await fs.mkdir(join(dir, relPathOf(vsKey('blocked'))), { recursive: true });
  // Acknowledged once journaled: the resource files are written after the acknowledgement.
  await s.apply([{ op: 'put', resource: vs('second') }, { op: 'put', resource: vs('blocked') }]);
  assert.ok(await s.get(vsKey('second')), 'committed: it is in the journal, so it survives whatever follows');
  await assert.rejects(s.apply([{ op: 'put', resource: vs('third') }]),
    (e: unknown) => e instanceof StoreUnavailableError && /journaled.*reopen the store/.test(e.message));
  await assert.rejects(s.apply([{ op: 'put', resource: vs('fourth') }]), StoreUnavailableError);
  await s.close();
  await fs.rm(join(dir, relPathOf(vsKey('blocked'))), { recursive: true });
  const s2 = await FileStore.open(dir);
  assert.deepEqual((await s2.list()).map((r) => r.metadata.name), ['blocked', 'first', 'second']);
  assert.equal(s2.revision(), '2');
  await s2.close();
});
