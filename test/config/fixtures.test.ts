// The seed fixtures (YAML users actually write) must load cleanly; the invalid corpus must each fail with
// its specific message at its specific position (`# expect:` / `# at:` header, or a `.expect` file for JSON).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyze, formatDiagnostic, loadPaths, parseText, validateResource } from '../../src/config/index.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const list = (dir: string): string[] => readdirSync(join(FIXTURES, dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

void test('every seed fixture loads without errors', () => {
  const files = list('seeds');
  assert.ok(files.length >= 50, `only ${files.length} seed fixtures`);
  let docs = 0;
  for (const f of files) {
    const r = parseText(readFileSync(join(FIXTURES, 'seeds', f), 'utf8'), f);
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errors.map(formatDiagnostic), [], f);
    assert.ok(r.documents.length > 0 || r.diagnostics.length > 0, `${f} produced nothing`);
    docs += r.documents.length;
  }
  assert.ok(docs >= 70, `only ${docs} documents`);
});

void test('every workload in the seeds gets the `weft run` message, one per document', () => {
  for (const f of list('seeds-workloads')) {
    const text = readFileSync(join(FIXTURES, 'seeds-workloads', f), 'utf8');
    const kinds = [...text.matchAll(/^kind: (\w+)$/gm)].length;
    const r = parseText(text, f);
    assert.equal(r.documents.length, 0, f);
    assert.equal(r.diagnostics.length, kinds, f);
    for (const d of r.diagnostics) {
      assert.equal(d.code, 'WEFT-WORKLOAD-KIND', f);
      assert.match(d.message, /run the workload as a process instead: `weft run --service \S+ --port \S+ --version \S+ .*-- COMMAND` \(or run Weft on Kubernetes\)/, f);
    }
  }
});

void test('every invalid document fails with its expected message at its expected position', () => {
  const files = list('invalid');
  assert.ok(files.length >= 70, `only ${files.length} invalid documents`);
  for (const f of files) {
    const path = join(FIXTURES, 'invalid', f);
    const text = readFileSync(path, 'utf8');
    const header = f.endsWith('.json') ? readFileSync(`${path}.expect`, 'utf8') : text;
    const expect = /^# expect: (.+)$/m.exec(header)?.[1];
    assert.ok(expect, `${f} has no "# expect:" line`);
    const at = /^# at: (\d+):(\d+)$/m.exec(header);
    const r = parseText(text, f);
    const shown = r.diagnostics.map(formatDiagnostic).join('\n');
    const hit = r.diagnostics.find((d) => d.severity === 'error' && d.message.includes(expect));
    assert.ok(hit, `${f}: no error containing ${JSON.stringify(expect)}; got:\n${shown}`);
    if (at) assert.deepEqual([hit.file, hit.line, hit.column], [f, Number(at[1]), Number(at[2])], `${f}: wrong position; got:\n${shown}`);
    assert.equal(r.documents.length, 0, `${f}: an invalid document was accepted`);
  }
});

void test('a zero-byte file and a generated 10 MB file give clear errors quickly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-invalid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'empty.yaml'), '');
  const svc = '  - name: p{i}\n    port: {i}\n';
  let big = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: huge\nspec:\n  ports:\n';
  for (let i = 1; big.length < 10 * 1024 * 1024; i++) big += svc.replaceAll('{i}', String((i % 65535) + 1));
  await writeFile(join(dir, 'huge.yaml'), big);
  const t0 = Date.now();
  const r = await loadPaths([dir]);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.file, d.line]), [
    ['WEFT-EMPTY', join(dir, 'empty.yaml'), 1],
    ['WEFT-TOO-LARGE', join(dir, 'huge.yaml'), 1],
  ]);
  assert.match(r.diagnostics[1].message, /larger than the 1\.5 MiB limit for one document/);
});

void test('mutated seed documents (wrong types, misspelt keys, broken YAML) never throw', () => {
  let state = 42;
  const rnd = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const junk: unknown[] = [null, 0, -1, 1.5, 'x', '', true, [], {}, [null], [1, 'a'], { a: null }, 'A'.repeat(300), 1e12];
  const mutate = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((x) => (rnd(7) === 0 ? junk[rnd(junk.length)] : mutate(x)));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [rnd(30) === 0 ? `${k}x` : k, rnd(7) === 0 ? junk[rnd(junk.length)] : mutate(x)]));
    }
    return v;
  };
  const inserts = ['', ':', '-', '[', '{', '"', '\t', '\n  ', '*', '&a', '*a', '!!binary', '? [a]\n: '];
  let runs = 0;
  for (const f of list('seeds')) {
    const text = readFileSync(join(FIXTURES, 'seeds', f), 'utf8');
    const docs = parseText(text, f).documents.map((d) => d.resource);
    for (let i = 0; i < 25; i++) {
      for (const d of docs) {
        for (const diag of validateResource(mutate(d))) assert.notEqual(diag.code, 'WEFT-INTERNAL', `${f}: ${diag.message}`);
        runs++;
      }
      const at = rnd(text.length);
      const broken = text.slice(0, at) + inserts[rnd(inserts.length)] + text.slice(at + rnd(2));
      const r = parseText(broken, f);
      r.diagnostics.forEach(formatDiagnostic);
      analyze(r.documents.map((d) => d.resource));
      runs++;
    }
  }
  assert.ok(runs > 1500, `only ${runs} runs`);
});
