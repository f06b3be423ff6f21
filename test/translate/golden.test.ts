// Golden-file tests: every test/translate/testdata/<case>.yaml is translated and compared with
// <case>.golden.json (REFRESH_GOLDEN=1 rewrites them). Each case is also checked for dangling
// references, encodes losslessly as Envoy protos, and routes its `simulate` requests as expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { checkConsistency } from '../../src/translate/index.js';
import { TESTDATA, caseNames, loadCase } from './harness.js';
import { caseResources, goldenJson, roundTripMismatches } from './resources.js';
import { simulate, simulateWithSidecar, compileWithSidecar } from './simulate.js';

function diff(expected: string, actual: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-golden-'));
  writeFileSync(join(dir, 'expected'), expected);
  writeFileSync(join(dir, 'actual'), actual);
  const r = spawnSync('diff', ['-u', join(dir, 'expected'), join(dir, 'actual')], { encoding: 'utf8' });
  if (r.stdout) return r.stdout.split('\n').slice(0, 200).join('\n');
  const e = expected.split('\n');
  const a = actual.split('\n');
  const i = e.findIndex((l, k) => l !== a[k]);
  return `first difference at line ${i + 1}:\n- ${e[i]}\n+ ${a[i]}`;
}

const refresh = process.env.REFRESH_GOLDEN === '1';

for (const name of caseNames()) {
  void test(`translate ${name}`, () => {
    const tc = loadCase(name);
    const res = caseResources(tc);
    const actual = goldenJson(res);
    const goldenPath = join(TESTDATA, `${name}.golden.json`);
    if (refresh || !existsSync(goldenPath)) writeFileSync(goldenPath, actual);
    const expected = readFileSync(goldenPath, 'utf8');
    if (expected !== actual) assert.fail(`${name}: output differs from ${name}.golden.json (REFRESH_GOLDEN=1 to accept)\n${diff(expected, actual)}`);

    assert.deepEqual(checkConsistency(res), [], `${name}: dangling references`);

    const bad = roundTripMismatches(res);
    assert.deepEqual(bad.map((b) => b.name), [], `${name}: fields lost in proto encoding:\n${bad.slice(0, 2).map((b) => JSON.stringify(b, null, 1)).join('\n')}`);

    if (tc.proxy.kind !== 'grpc') for (const rc of res.routes.values()) compileWithSidecar(rc);

    for (const s of tc.simulate) {
      const got = simulate(res, s);
      if (tc.proxy.kind !== 'grpc') {
        const side = simulateWithSidecar(res, s);
        assert.deepEqual({ cluster: side.cluster, weighted: side.weighted, direct: side.direct, error: side.error },
          { cluster: got.cluster, weighted: got.weighted, direct: got.direct, error: got.error }, `${name}: the sidecar's router disagrees for ${JSON.stringify(s)}`);
      }
      const what = `${name}: ${s.listener ?? s.port} ${s.host}${s.path ?? '/'} ${JSON.stringify(s.headers ?? {})} -> ${JSON.stringify(got)}`;
      if (s.none) { assert.equal(got.error, 'no route matches', what); continue; }
      assert.equal(got.error, undefined, what);
      if (s.cluster !== undefined) assert.equal(got.cluster, s.cluster, what);
      if (s.weighted !== undefined) assert.deepEqual(got.weighted, s.weighted, what);
      if (s.direct !== undefined) assert.equal(got.direct, s.direct, what);
    }
  });
}
