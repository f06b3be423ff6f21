// Fault injection percentages, outlier detection and the keep-alive race with real processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, send } from '../e2e/helpers.js';
import { clusterStat, outbound, seen, stats } from './helpers.js';
import { type LbMesh, fanOut, startLbMesh } from './lb-mesh.js';

let m: LbMesh;
const call = (h: string, extra?: Record<string, string>) => m.call(h, extra);

before(async () => { m = await startLbMesh(); });
after(async () => { await m?.stop(); });

test('fault abort 50% gives 50% ±5% errors over 1000 calls; delay 10% delays 10% ±3%', async (t) => {
  const ab = await fanOut(1000, 50, () => call('abort50'));
  const errors = ab.filter(({ r }) => r.status === 500);
  assert.ok(errors.every(({ r }) => r.body === 'fault filter abort'));
  assert.equal(ab.filter(({ r }) => r.status === 200).length + errors.length, 1000);
  t.diagnostic(`abort: ${errors.length}/1000`);
  assert.ok(Math.abs(errors.length / 1000 - 0.5) <= 0.05, `${errors.length} aborted`);
  const injected = async (): Promise<number> => {
    let n = 0;
    for (const [k, v] of await stats(m.clientAddr)) if (/^http\..*\.fault\.delays_injected$/.test(k)) n += v;
    return n;
  };
  const injected0 = await injected();
  const de = await fanOut(1000, 100, () => call('delay10'));
  // The delay is 1.5 s, far above this busy machine's own latency spikes.
  const delayed = de.filter(({ ms }) => ms >= 1400).length;
  const counted = (await injected()) - injected0;
  t.diagnostic(`delay: ${delayed}/1000 took >= 1.4 s, fault.delays_injected +${counted}`);
  assert.ok(de.every(({ r }) => r.status === 200));
  assert.ok(Math.abs(delayed / 1000 - 0.1) <= 0.03, `${delayed} delayed`);
  assert.ok(Math.abs(delayed - counted) <= 10, 'the stat counts the delayed calls');
});

test('outlier detection: the always-503 replica is ejected (>= 99% success) and returns after baseEjectionTime', async (t) => {
  const bad = m.replicas[0];
  const badAddr = (await bad.workload()).address;
  const cluster = outbound('lb', 9000, 'default', 'od');
  await send({ host: badAddr, port: 9000, path: '/__status/503' });
  try {
    await pollUntil('ejection', async () => {
      await fanOut(6, 1, () => call('od'));
      return (await clusterStat(m.clientAddr, cluster, 'outlier_detection.ejections_active')) === 1;
    }, 10_000);
    const ejectedAt = performance.now();
    const rs = await fanOut(300, 10, () => call('od'));
    const ok = rs.filter(({ r }) => r.status === 200).length;
    t.diagnostic(`while ejected: ${ok}/300 succeeded`);
    if (performance.now() - ejectedAt < 1900) assert.ok(ok / 300 >= 0.99, `${ok}/300`);
    assert.ok(await clusterStat(m.clientAddr, cluster, 'outlier_detection.ejections_enforced_total') >= 1);
    // Back after baseEjectionTime (2 s, checked every 0.5 s): the bad replica sees calls again.
    const before0 = await seen(bad, 9000);
    await pollUntil('return of the ejected host', async () => {
      await fanOut(6, 1, () => call('od'));
      return (await seen(bad, 9000)) > before0;
    }, 8000);
    const back = performance.now() - ejectedAt;
    t.diagnostic(`returned after ${Math.round(back)} ms`);
    assert.ok(back >= 1500, `returned after ${Math.round(back)} ms`);
  } finally {
    await send({ host: badAddr, port: 9000, path: '/__status/200' });
  }
});

test('no spurious 503 UC: upstreams closing idle keep-alive connections after 1 s, bursty load, zero failures', async (t) => {
  let failures = 0;
  let total = 0;
  for (let burst = 0; burst < 6; burst++) {
    const rs = await fanOut(30, 30, () => call('rr'));
    total += rs.length;
    failures += rs.filter(({ r }) => r.status !== 200).length;
    // Idle for about the servers' keep-alive timeout, so the next burst races their close.
    await new Promise((r) => setTimeout(r, 950 + burst * 20));
  }
  t.diagnostic(`${total} calls, ${failures} failed`);
  assert.equal(failures, 0);
});
