// Translation must not throw on incomplete specs: fields are deleted at random (fixed seed) from
// every golden case's resources and each mutant is translated and consistency-checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../src/model/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { checkConsistency } from '../../src/translate/index.js';
import { caseNames, loadCase } from './harness.js';
import { caseResources } from './resources.js';

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function mutate(o: unknown, rnd: () => number): void {
  if (Array.isArray(o)) {
    if (o.length > 0 && rnd() < 0.2) o.splice(Math.floor(rnd() * o.length), 1);
    for (const x of o) mutate(x, rnd);
  } else if (o && typeof o === 'object') {
    const rec = o as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (rnd() < 0.15) delete rec[k];
      else mutate(rec[k], rnd);
    }
  }
}

void test('translation survives specs with random fields removed', () => {
  const rnd = rng(42);
  let runs = 0;
  for (let i = 0; i < 25; i++) {
    for (const name of caseNames()) {
      const tc = loadCase(name);
      const resources: Resource[] = structuredClone([...tc.snapshot.resources]);
      for (const r of resources) mutate(r.spec, rnd);
      const snapshot = createSnapshot(`fuzz-${i}`, resources, tc.snapshot.workloads, tc.snapshot.mesh);
      let res;
      try {
        res = caseResources({ ...tc, snapshot });
      } catch (e) {
        assert.fail(`${name} mutant ${i}: ${e instanceof Error ? e.stack : String(e)}\n${JSON.stringify(resources)}`);
      }
      checkConsistency(res);
      runs++;
    }
  }
  assert.ok(runs > 0);
});
