import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterStats } from '../stats.js';
import { Endpoint } from './endpoint.js';
import { Outcome, OutlierDetector } from './outlier.js';
import { clusterPolicy } from './policy.js';

function setup(od: Record<string, unknown>, n = 3): { d: OutlierDetector; eps: Endpoint[]; stats: ClusterStats; now: { t: number }; changes: { n: number } } {
  const stats = new ClusterStats();
  const eps = Array.from({ length: n }, (_, i) => new Endpoint('10.0.0.1', 9000 + i, stats, 1000));
  const now = { t: 0 };
  const changes = { n: 0 };
  const cfg = clusterPolicy({ outlier_detection: od }, 'Cluster c').outlier!;
  const d = new OutlierDetector(cfg, stats.outlier, () => eps, () => changes.n++, () => now.t);
  return { d, eps, stats, now, changes };
}

void it('consecutive 5xx ejects, base_ejection_time x count brings it back, max_ejection_percent caps', () => {
  const { d, eps, stats, now, changes } = setup({ consecutive_5xx: 3, interval: '1s', base_ejection_time: '10s', max_ejection_percent: 40 });
  try {
    d.report(eps[0], Outcome.Response, 500);
    d.report(eps[0], Outcome.Response, 500);
    d.report(eps[0], Outcome.Response, 200);
    d.report(eps[0], Outcome.Response, 500);
    assert.equal(eps[0].ejected, false, 'a success resets the count');
    d.report(eps[0], Outcome.Response, 500);
    d.report(eps[0], Outcome.Response, 503);
    assert.equal(eps[0].ejected, true);
    assert.equal(stats.outlier.ejections_active, 1);
    assert.equal(stats.outlier.ejections_enforced_consecutive_5xx, 1);
    assert.equal(changes.n, 1);
    // Envoy ejects while the share already ejected is below max_ejection_percent: 33% < 40% allows a
    // second (local-origin errors count as 5xx when not split); at 66% the third overflows.
    for (let i = 0; i < 3; i++) d.report(eps[1], Outcome.ConnectFailure, 0);
    assert.equal(eps[1].ejected, true);
    for (let i = 0; i < 3; i++) d.report(eps[2], Outcome.Response, 500);
    assert.equal(eps[2].ejected, false);
    assert.equal(stats.outlier.ejections_overflow, 1);
    d.forget(eps[1]);
    now.t = 9_000;
    d.tick();
    assert.equal(eps[0].ejected, true);
    now.t = 10_000;
    d.tick();
    assert.equal(eps[0].ejected, false);
    assert.equal(stats.outlier.ejections_active, 0);
    // Second ejection lasts twice as long.
    for (let i = 0; i < 3; i++) d.report(eps[0], Outcome.Response, 500);
    now.t = 25_000;
    d.tick();
    assert.equal(eps[0].ejected, true);
    now.t = 30_000;
    d.tick();
    assert.equal(eps[0].ejected, false);
  } finally {
    d.close();
  }
});

void it('gateway failures need enforcing_consecutive_gateway_failure; split local-origin errors count separately', () => {
  const { d, eps, stats } = setup({ consecutive_gateway_failure: 2, enforcing_consecutive_gateway_failure: 100, consecutive_5xx: 100, consecutive_local_origin_failure: 2, split_external_local_origin_errors: true, max_ejection_percent: 100 });
  try {
    d.report(eps[0], Outcome.Response, 502);
    d.report(eps[0], Outcome.Response, 504);
    assert.equal(eps[0].ejected, true);
    assert.equal(stats.outlier.ejections_enforced_consecutive_gateway_failure, 1);
    d.report(eps[1], Outcome.ConnectFailure, 0);
    d.report(eps[1], Outcome.Response, 200);
    d.report(eps[1], Outcome.ConnectFailure, 0);
    assert.equal(eps[1].ejected, false, 'a response resets the local-origin count');
    d.report(eps[1], Outcome.LocalReset, 0);
    assert.equal(eps[1].ejected, true);
    assert.equal(stats.outlier.ejections_enforced_consecutive_local_origin_failure, 1);
  } finally {
    d.close();
  }
});
