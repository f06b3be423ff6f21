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

void describe('slow start (warmup) on a cluster with an injected clock', () => {
  const cla = (ports: number[]) => ({ endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: p } } } })) }] });
  for (const lb of ['ROUND_ROBIN', 'LEAST_REQUEST']) {
    void it(`${lb}: a new endpoint starts at min_weight_percent and ramps up linearly (aggression 1) over the window`, async () => {
      const { StatsStore } = await import('../stats.js');
      const { compileCluster } = await import('./cluster.js');
      const field = lb === 'ROUND_ROBIN' ? 'round_robin_lb_config' : 'least_request_lb_config';
      const c = compileCluster('c', { type: 'EDS', lb_policy: lb, [field]: { slow_start_config: { slow_start_window: '100s', min_weight_percent: { value: 10 } } } }, new StatsStore(), 'Cluster c');
      let now = 0;
      c.clock = () => now;
      c.setLoadAssignment(cla([1, 2]), 'cla');
      now = 200_000; // the first two are past their window
      c.setLoadAssignment(cla([1, 2, 3]), 'cla');
      const share = (): number => {
        let n = 0;
        for (let i = 0; i < 4200; i++) if (c.picker.pick()!.port === 3) n++;
        return n / 4200;
      };
      // 10%: weights 1, 1, 0.1 -> 0.1 / 2.1
      assert.ok(Math.abs(share() - 0.1 / 2.1) < 0.02, `at join: ${share()}`);
      now += 50_000; // half the window: weight 0.5 -> 0.5 / 2.5
      assert.ok(Math.abs(share() - 0.5 / 2.5) < 0.03, `half way: ${share()}`);
      now += 60_000; // past the window: full weight
      assert.ok(Math.abs(share() - 1 / 3) < 0.03, `after: ${share()}`);
    });
  }

  void it('aggression bends the ramp: weight = max(min, t^(1/aggression))', async () => {
    const { StatsStore } = await import('../stats.js');
    const { compileCluster } = await import('./cluster.js');
    const c = compileCluster('c', { type: 'EDS', lb_policy: 'ROUND_ROBIN', round_robin_lb_config: { slow_start_config: { slow_start_window: '100s', aggression: { default_value: 2, runtime_key: 'x' } } } }, new StatsStore(), 'Cluster c');
    let now = 0;
    c.clock = () => now;
    c.setLoadAssignment(cla([1]), 'cla');
    now = 500_000;
    c.setLoadAssignment(cla([1, 2]), 'cla');
    now += 25_000; // t = 0.25, sqrt -> 0.5: shares 1 : 0.5
    let n = 0;
    for (let i = 0; i < 3000; i++) if (c.picker.pick()!.port === 2) n++;
    assert.ok(Math.abs(n / 3000 - 0.5 / 1.5) < 0.03, String(n / 3000));
  });
});

void it('locality-weighted: localities by weight, an unweighted locality gets nothing, a half-down locality loses weight', async () => {
  const { StatsStore } = await import('../stats.js');
  const { compileCluster } = await import('./cluster.js');
  const c = compileCluster('c', { type: 'EDS', lb_policy: 'ROUND_ROBIN', common_lb_config: { locality_weighted_lb_config: {} } }, new StatsStore(), 'Cluster c');
  const ep = (p: number, health = 'HEALTHY') => ({ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: p } } }, health_status: health });
  c.setLoadAssignment({ endpoints: [
    { locality: { zone: 'a' }, load_balancing_weight: { value: 3 }, lb_endpoints: [ep(1)] },
    { locality: { zone: 'b' }, load_balancing_weight: { value: 1 }, lb_endpoints: [ep(2), ep(3)] },
    { locality: { zone: 'c' }, lb_endpoints: [ep(4)] },
  ] }, 'cla');
  const tally = (): Map<number, number> => {
    const m = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const p = c.picker.pick()!.port;
      m.set(p, (m.get(p) ?? 0) + 1);
    }
    return m;
  };
  assert.deepEqual([...tally()].sort(), [[1, 300], [2, 50], [3, 50]]);
  // zone a: 1 of 3 hosts healthy -> availability min(1, 1.4 / 3) scales its weight 3 -> 1.4
  c.setLoadAssignment({ endpoints: [
    { locality: { zone: 'a' }, load_balancing_weight: { value: 3 }, lb_endpoints: [ep(1), ep(5, 'UNHEALTHY'), ep(6, 'UNHEALTHY')] },
    { locality: { zone: 'b' }, load_balancing_weight: { value: 1 }, lb_endpoints: [ep(2), ep(3)] },
  ] }, 'cla');
  const t = tally();
  assert.ok(Math.abs((t.get(1) ?? 0) / 400 - 1.4 / 2.4) < 0.02, JSON.stringify([...t]));
});
