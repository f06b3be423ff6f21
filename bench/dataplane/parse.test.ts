// The pure parsers of the benchmark: /proc files and wrk's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memMb, parseCpuSteal, parseProcStat, parseSmapsRollupKb, parseVmRssKb } from './proc.js';
import { parseWrkOutput } from './measure.js';

void test('parseProcStat reads ppid, utime and stime after a command name with spaces and parentheses', () => {
  const line = '4242 (node (weft) x) S 4200 4242 4200 0 -1 4194560 1200 0 3 0 1234 567 0 0 20 0 11 0 900 1206384000 43500 18446744073709551615';
  assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 4200, utimeTicks: 1234, stimeTicks: 567 });
  assert.throws(() => parseProcStat('garbage'), /unexpected \/proc stat line/);
});

void test('parseVmRssKb finds VmRSS, and 0 when it is absent', () => {
  assert.equal(parseVmRssKb('Name:\tnginx\nVmPeak:\t  20000 kB\nVmRSS:\t   12480 kB\nRssAnon:\t 2000 kB\n'), 12480);
  assert.equal(parseVmRssKb('Name:\tkthreadd\nState:\tS (sleeping)\n'), 0);
});

void test('parseCpuSteal takes the 8th value of the aggregate cpu line', () => {
  assert.deepEqual(parseCpuSteal('cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 17 0 0\n'), { steal: 35, total: 1000 });
});

void test('parseWrkOutput reads requests/s, totals, errors and the latency distribution in any unit', () => {
  const out = `Running 5s test @ http://127.0.0.1:8080/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   312.50us  101.20us   4.10ms   91.00%
    Req/Sec    51.20k     1.90k   54.00k    72.00%
  Latency Distribution
     50%  290.00us
     75%  350.00us
     90%    1.20ms
     99%    2.00s
  254000 requests in 5.00s, 310.00MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  50800.12
Transfer/sec:     62.00MB
`;
  const r = parseWrkOutput(out);
  assert.equal(r.rps, 50800.12);
  assert.equal(r.requests, 254000);
  assert.equal(r.durationS, 5);
  assert.equal(r.non2xx, 7);
  assert.equal(r.socketErrors, 6);
  assert.deepEqual(r.latencyMs, { p50: 0.29, p75: 0.35, p90: 1.2, p99: 2000 });
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused'), /could not parse wrk output/);
});

void test('parseSmapsRollupKb reads Rss, Pss and Anonymous, and undefined when one is missing', () => {
  const text = '55d0c0000000-7ffd3a9e6000 ---p 00000000 00:00 0                          [rollup]\nRss:              104448 kB\nPss:               70144 kB\nPss_Anon:          59392 kB\nShared_Clean:      45056 kB\nAnonymous:         59392 kB\n';
  assert.deepEqual(parseSmapsRollupKb(text), { rss: 104448, pss: 70144, anon: 59392 });
  assert.equal(parseSmapsRollupKb('Rss:  10 kB\nPss_Anon:  5 kB\n'), undefined);
});

void test('memMb of this process: PSS and anonymous are parts of RSS', () => {
  const m = memMb([process.pid]);
  assert.ok(m.rss > 10, `rss ${m.rss}`);
  if (process.platform === 'linux' && m.pss > 0) {
    assert.ok(m.pss <= m.rss + 0.5 && m.anon <= m.rss + 0.5 && m.anon > 1, JSON.stringify(m));
  }
});
