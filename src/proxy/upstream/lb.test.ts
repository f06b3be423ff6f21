// One conformance suite for every load balancer, plus per-policy distribution checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterStats } from '../stats.js';
import { Endpoint } from './endpoint.js';
import { buildPicker } from './lb.js';
import { DEFAULT_POLICY } from './policy.js';

function endpoints(weights: number[]): Endpoint[] {
  const stats = new ClusterStats();
  return weights.map((w, i) => {
    const e = new Endpoint('10.0.0.1', 1000 + i, stats, 1000);
    e.weight = w;
    return e;
  });
}

function counts(policy: string, eps: Endpoint[], n: number): number[] {
  const p = buildPicker(policy, eps);
  const c = eps.map(() => 0);
  for (let i = 0; i < n; i++) c[eps.indexOf(p.pick()!)]++;
  return c;
}

for (const policy of ['ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST']) {
  void describe(`load balancer ${policy}`, () => {
    void it('returns null with no healthy endpoint', () => {
      const eps = endpoints([1, 1]);
      for (const e of eps) e.healthy = false;
      assert.equal(buildPicker(policy, eps).pick(), null);
      assert.equal(buildPicker(policy, []).pick(), null);
    });
    void it('never picks unhealthy or zero-weight endpoints', () => {
      const eps = endpoints([1, 1, 0]);
      eps[0].healthy = false;
      const c = counts(policy, eps, 200);
      assert.deepEqual([c[0], c[2]], [0, 0]);
      assert.equal(c[1], 200);
    });
    void it('uses the lowest priority with healthy endpoints', () => {
      const eps = endpoints([1, 1, 1]);
      eps[0].priority = 1;
      eps[1].priority = 0;
      eps[2].priority = 0;
      eps[1].healthy = false;
      assert.deepEqual(counts(policy, eps, 50), [0, 0, 50]);
      eps[2].healthy = false;
      assert.deepEqual(counts(policy, eps, 50), [50, 0, 0]);
    });
    void it('spreads equal-weight load evenly (within 15%)', () => {
      const c = counts(policy, endpoints([1, 1, 1]), 3000);
      for (const x of c) assert.ok(Math.abs(x - 1000) < 150, `counts ${c.join(',')}`);
    });
  });
}

void describe('load balancer specifics', () => {
  void it('ROUND_ROBIN cycles exactly and honours weights exactly per cycle', () => {
    assert.deepEqual(counts('ROUND_ROBIN', endpoints([1, 1, 1]), 300), [100, 100, 100]);
    assert.deepEqual(counts('ROUND_ROBIN', endpoints([1, 3]), 400), [100, 300]);
    assert.deepEqual(counts('ROUND_ROBIN', endpoints([20, 80]), 1000), [200, 800]);
  });
  void it('RANDOM honours weights (within 5%)', () => {
    const c = counts('RANDOM', endpoints([1, 3]), 8000);
    assert.ok(Math.abs(c[1] - 6000) < 400, `counts ${c.join(',')}`);
  });
  void it('LEAST_REQUEST prefers endpoints with fewer requests in flight', () => {
    const eps = endpoints([1, 1]);
    eps[0].active = 10;
    const c = counts('LEAST_REQUEST', eps, 1000);
    assert.equal(c[1], 1000);
  });
});

void it('outlier ejection of every local host fails over to the next priority (Istio locality failover)', () => {
  const build = buildPicker;
  const st = new ClusterStats();
  const local = [new Endpoint('10.0.0.1', 1, st, 1000), new Endpoint('10.0.0.2', 1, st, 1000)];
  const remote = new Endpoint('10.0.1.1', 1, st, 1000);
  remote.priority = 1;
  const all = [...local, remote];
  const noPanic = { ...DEFAULT_POLICY, panicThreshold: 0 };
  assert.ok(local.includes(build('ROUND_ROBIN', all, noPanic).pick()!));
  for (const e of local) e.ejected = true;
  assert.equal(build('ROUND_ROBIN', all, noPanic).pick(), remote);
  remote.ejected = true;
  assert.equal(build('ROUND_ROBIN', all, noPanic).pick(), null, 'all ejected, panic mode off: no healthy upstream');
  assert.ok(build('ROUND_ROBIN', all).pick() !== null, 'with the default 50% threshold: panic mode uses them all');
});
