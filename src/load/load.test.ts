// weft load against local servers: counts, codes, pacing, latency from intended time, -curl, proxy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { formatFortioReport, loadCommand, parseDuration, parseLoadArgs, runLoad } from './index.js';

async function server(handler: http.RequestListener): Promise<{ url: string; requests: { url: string; host?: string }[]; close: () => Promise<void> }> {
  const requests: { url: string; host?: string }[] = [];
  const s = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', host: req.headers.host });
    handler(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }),
  };
}

async function capture(argv: string[], env?: Record<string, string>): Promise<{ code: number; text: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const saved = { ...process.env };
  if (env) Object.assign(process.env, env);
  try {
    const code = await loadCommand(argv, out);
    return { code, text };
  } finally {
    for (const k of Object.keys(env ?? {})) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

void describe('weft load', () => {
  void it('makes exactly -n calls over -c connections and counts codes like fortio', async () => {
    let i = 0;
    const s = await server((_req, res) => {
      res.statusCode = i++ % 4 === 3 ? 503 : 200;
      res.end('x'.repeat(10));
    });
    try {
      const { code, text } = await capture(['-c', '2', '-qps', '0', '-n', '20', '-loglevel', 'Warning', `${s.url}/get`]);
      assert.equal(code, 0);
      assert.equal(s.requests.length, 20);
      assert.match(text, /^Code 200 : 15 \(75\.0 %\)$/m);
      assert.match(text, /^Code 503 : 5 \(25\.0 %\)$/m);
      assert.match(text, /^All done 20 calls \(plus 0 warmup\) [\d.]+ ms avg, [\d.]+ qps$/m);
      assert.match(text, /^# target 50% [\d.e-]+$/m);
      assert.match(text, /^# target 99\.9% [\d.e-]+$/m);
      assert.match(text, /for exactly 20 calls \(10 per thread \+ 0\)/);
      assert.match(text, /^Sockets used: 2 \(for perfect keepalive, would be 2\)$/m);
      const json = await capture(['-c', '1', '-qps', '0', '-n', '4', '-json', '-', `${s.url}/get`]);
      const parsed = JSON.parse(json.text) as { RetCodes: Record<string, number>; DurationHistogram: { Count: number; Percentiles: unknown[] } };
      assert.equal(parsed.DurationHistogram.Count, 4);
      assert.equal(Object.values(parsed.RetCodes).reduce((a, b) => a + b, 0), 4);
      assert.equal(parsed.DurationHistogram.Percentiles.length, 5);
    } finally {
      await s.close();
    }
  });

  void it('paces to the requested qps (loosely) and measures from the intended send time', async () => {
    const s = await server((_req, res) => res.end('ok'));
    try {
      const r = await runLoad({ url: s.url, connections: 2, qps: 40, durationMs: 1000, env: {} });
      assert.ok(r.calls >= 36 && r.calls <= 41, `calls ${r.calls}`);
      assert.ok(r.actualQps > 30 && r.actualQps < 50, `qps ${r.actualQps}`);
      assert.ok(r.durationHistogram.min >= 0);
    } finally {
      await s.close();
    }
    // A server that stalls: calls queue behind it, and their latency includes the wait.
    const slow = await server((_req, res) => setTimeout(() => res.end('ok'), 100));
    try {
      const r = await runLoad({ url: slow.url, connections: 1, qps: 50, requests: 5, env: {} });
      assert.equal(r.calls, 5);
      // Intended times 0,20,..,80 ms, each call takes 100 ms: the last ends ~500 ms, intended 80 ms.
      assert.ok(r.durationHistogram.max > 0.35, `max ${r.durationHistogram.max}`);
    } finally {
      await slow.close();
    }
  });

  void it('-uniform staggers the connections instead of firing them together', async () => {
    let arrivals: number[] = [];
    const s = await server((_req, res) => {
      arrivals.push(performance.now());
      res.end('ok');
    });
    try {
      const gaps = (): number[] => arrivals.slice(1).map((t, i) => t - arrivals[i]);
      // 5 qps over 2 connections: uniform pacing spaces arrivals 200 ms apart; without it the two
      // connections fire together. Wide margins keep this stable on a loaded machine.
      await runLoad({ url: s.url, connections: 2, qps: 5, requests: 4, uniform: true, env: {} });
      assert.equal(arrivals.length, 4);
      assert.ok(Math.min(...gaps()) > 100, `uniform gaps ${gaps().map((g) => g.toFixed(1)).join(',')}`);
      arrivals = [];
      await runLoad({ url: s.url, connections: 2, qps: 5, requests: 4, env: {} });
      assert.ok(gaps()[0] < 100, `bursty gaps ${gaps().map((g) => g.toFixed(1)).join(',')}`);
    } finally {
      await s.close();
    }
  });

  void it('reports transport errors by kind', async () => {
    const hang = await server(() => undefined);
    const dead = await server(() => undefined);
    const deadUrl = dead.url;
    await dead.close();
    try {
      const refused = await runLoad({ url: deadUrl, connections: 1, qps: 0, requests: 3, env: {} });
      assert.equal(refused.retCodes.get(-1), 3);
      assert.equal(refused.errors.get('connection refused'), 3);
      const timedOut = await runLoad({ url: hang.url, connections: 2, qps: 0, requests: 2, timeoutMs: 150, env: {} });
      assert.equal(timedOut.errors.get('timeout'), 2);
      const text = formatFortioReport(timedOut);
      assert.match(text, /^Error timeout : 2 \(100\.0 %\)/m);
      assert.match(text, /^Code -1 : 2 \(100\.0 %\)$/m);
      const reset = await server((req) => req.socket.destroy());
      try {
        const r = await runLoad({ url: reset.url, connections: 1, qps: 0, requests: 2, env: {} });
        assert.equal(r.errors.get('connection reset'), 2);
      } finally {
        await reset.close();
      }
    } finally {
      await hang.close();
    }
  });

  void it('-curl prints status, headers and body; -H, -X and -payload are sent', async () => {
    let seen: { method?: string; hdr?: string; body?: string } = {};
    const s = await server((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { method: req.method, hdr: req.headers['x-test'] as string, body };
        res.setHeader('X-Answer', '42');
        res.end('{"ok":true}');
      });
    });
    try {
      const { code, text } = await capture(['-curl', '-H', 'X-Test: yes', '-X', 'PUT', '-payload', 'hello', `${s.url}/ratings/0`]);
      assert.equal(code, 0);
      assert.match(text, /^HTTP\/1\.1 200 OK$/m);
      assert.match(text, /^X-Answer: 42$/m);
      assert.match(text, /\n\n\{"ok":true\}\n$/);
      assert.deepEqual(seen, { method: 'PUT', hdr: 'yes', body: 'hello' });
    } finally {
      await s.close();
    }
  });

  void it('sends absolute-form requests to HTTP_PROXY', async () => {
    const proxy = await server((_req, res) => res.end('via proxy'));
    try {
      const r = await runLoad({ url: 'http://ratings:9080/ratings/0', connections: 1, qps: 0, requests: 3, env: { HTTP_PROXY: proxy.url } });
      assert.equal(r.retCodes.get(200), 3);
      assert.equal(r.proxy, proxy.url.slice('http://'.length));
      assert.deepEqual(proxy.requests[0], { url: 'http://ratings:9080/ratings/0', host: 'ratings:9080' });
      const { text } = await capture(['-curl', 'http://httpbin:8000/get'], { HTTP_PROXY: proxy.url, NO_PROXY: '' });
      assert.match(text, /via proxy/);
      assert.equal(proxy.requests.at(-1)?.url, 'http://httpbin:8000/get');
    } finally {
      await proxy.close();
    }
  });

  void it('rejects bad flags with a clear message and exit code 2', async () => {
    assert.deepEqual(parseLoadArgs(['-c=3', '-t', '2s', '-uniform', 'example:80/x']).options.durationMs, 2000);
    assert.equal(parseLoadArgs(['-c=3', 'example:80/x']).options.url, 'http://example:80/x');
    assert.equal(parseDuration('1m30s', 't'), 90_000);
    assert.equal(parseDuration('250ms', 't'), 250);
    assert.throws(() => parseDuration('5 sec', 't'), /-t: invalid duration/);
    const bad = await capture(['-c', 'two', 'http://x/']);
    assert.equal(bad.code, 2);
    assert.match(bad.text, /-c: expected a number, got "two"/);
    assert.equal((await capture(['-bogus', 'http://x/'])).code, 2);
    assert.match((await capture(['-n', '3'])).text, /missing URL/);
    assert.match((await capture(['-H', 'nocolon', 'http://x/'])).text, /-H: expected "Name: value"/);
  });
});
