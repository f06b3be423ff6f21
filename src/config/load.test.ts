import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadPaths } from './index.js';

const ns = (name: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

void test('loadPaths reads files, directories recursively (yaml, yml, json only, sorted, hidden skipped) and stdin', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(dir, '.hidden'));
  await writeFile(join(dir, 'b.yaml'), ns('b'));
  await writeFile(join(dir, 'a.yml'), ns('a'));
  await writeFile(join(dir, 'sub', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }));
  await writeFile(join(dir, 'sub', 'deeper', 'd.YAML'), ns('d'));
  await writeFile(join(dir, 'sub', 'notes.txt'), 'not config');
  await writeFile(join(dir, '.hidden', 'e.yaml'), ns('e'));
  const single = join(dir, 'single.yaml');
  await writeFile(single, ns('single'));

  const r = await loadPaths([dir, single, '-'], { stdin: Readable.from([Buffer.from(ns('from-stdin'))]) });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.documents.map((d) => d.resource.metadata.name), ['a', 'b', 'single', 'c', 'd', 'single', 'from-stdin']);
  assert.deepEqual(r.documents.map((d) => d.source?.file), [
    join(dir, 'a.yml'), join(dir, 'b.yaml'), single, join(dir, 'sub', 'c.json'), join(dir, 'sub', 'deeper', 'd.YAML'), single, '<stdin>',
  ]);
});

void test('loadPaths reports missing paths, empty and binary files, empty directories and bad stdin with the file name', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'empty.yaml'), '');
  await writeFile(join(dir, 'binary.yaml'), Buffer.from([0x61, 0x00, 0x62]));
  await mkdir(join(dir, 'nothing'));
  const r = await loadPaths([join(dir, 'missing.yaml'), join(dir, 'empty.yaml'), join(dir, 'binary.yaml'), join(dir, 'nothing'), '-'],
    { stdin: Readable.from(['kind: [']) });
  assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code, d.file, d.message.slice(0, 30)]), [
    ['error', 'WEFT-FILE', join(dir, 'missing.yaml'), 'no such file or directory'],
    ['error', 'WEFT-EMPTY', join(dir, 'empty.yaml'), 'file is empty (no YAML or JSON'],
    ['error', 'WEFT-FILE', join(dir, 'binary.yaml'), 'not a text file (contains NUL '],
    ['warning', 'WEFT-FILE', join(dir, 'nothing'), 'directory contains no .yaml, .'],
    ['error', 'WEFT-PARSE', '<stdin>', 'invalid YAML: Flow sequence in'],
  ]);
  assert.equal(r.documents.length, 0);
});

void test('positions stay right for the second document of a file loaded from disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'gw.yaml');
  await writeFile(file, `${ns('a')}---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["a.*.com"]\n`);
  const r = await loadPaths([file]);
  assert.deepEqual(r.diagnostics.map((d) => [d.file, d.line, d.column, d.path, d.code]), [[file, 13, 13, 'spec.servers[0].hosts[0]', 'WEFT-HOST']]);
  assert.deepEqual(r.documents.map((d) => d.resource.metadata.name), ['a']);
});
