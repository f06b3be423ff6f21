import assert from 'node:assert/strict';
import test from 'node:test';
import { parseH2load, percentiles } from './loads.js';

const H2LOAD = `starting benchmark...
spawning thread #0: 16 total client(s). Timing-based test with 1s warm-up time and 5s main duration
Warm-up started for thread #0.
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
finished in 5.00s, 13083.20 req/s, 13.84MB/s
requests: 65416 total, 65576 started, 65416 done, 65416 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 65568 2xx, 0 3xx, 0 4xx, 0 5xx
`;

void test('h2load summary: req/s as printed when nothing failed (status codes include the warm-up)', () => {
  const r = parseH2load(H2LOAD);
  assert.equal(r.rps, 13083.2);
  assert.equal(r.errors, 0);
  assert.equal(r.requests, 65416);
  assert.equal(r.seconds, 5);
});

void test('h2load summary: non-2xx and failed requests are errors and leave the successful rate', () => {
  const r = parseH2load(H2LOAD.replace('65416 succeeded, 0 failed', '65000 succeeded, 416 failed').replace('0 5xx', '1000 5xx'));
  assert.equal(r.errors, 1416);
  assert.equal(r.rps, (65000 - 1000) / 5);
});

void test('h2load output without a summary is refused with its tail', () => {
  assert.throws(() => parseH2load('connect error'), /could not parse h2load output: connect error/);
});

void test('percentiles: nearest rank', () => {
  const p = percentiles(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.deepEqual([p.p50, p.p90, p.p99, p.max], [50, 90, 99, 100]);
});
