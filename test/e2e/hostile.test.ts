// Malformed and hostile HTTP sent to real sidecars, on a workload's inbound port and on a client's
// outbound :15001: each gets 400 or 431 (or, for a stalled request, nothing), and a good client keeps
// getting 200 through both sidecars the whole time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { SteadyLoad, pollUntil, send } from './helpers.js';

let mesh: TestMesh | undefined;
let client: RunningWorkload;
let httpbin: RunningWorkload;

before(async () => {
  mesh = await TestMesh.start();
  await mesh.apply(`
apiVersion: v1
kind: Service
metadata: { name: httpbin }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000 }]
`);
  [httpbin, client] = await Promise.all([
    mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000),
    mesh.runClient('sleep'),
  ]);
});

after(async () => { await mesh?.stop(); });

/** Writes raw bytes, returns everything the peer sends until it closes or `ms` pass. */
function raw(host: string, port: number, chunks: (string | Buffer)[], ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let got = '';
    const done = () => { clearTimeout(timer); s.destroy(); resolve(got); };
    const timer = setTimeout(done, ms);
    s.on('data', (c: Buffer) => { got += c.toString('latin1'); });
    s.on('close', done);
    s.on('error', done);
    // Each chunk after the first goes out once the previous one has been answered (keep-alive reuse).
    let sent = 0;
    const next = () => { if (sent < chunks.length && (got.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= sent) s.write(chunks[sent++]); };
    s.on('data', next);
    s.on('connect', next);
  });
}

const H = (host: string) => `Host: ${host}\r\n`;
const CASES: [string, (host: string, path: string) => (string | Buffer)[], RegExp][] = [
  ['garbage request line', () => ['GARBAGE\r\n\r\n'], /^HTTP\/1\.1 400 /],
  ['unknown HTTP version', (h, p) => [`GET ${p} HTTP/9.9\r\n${H(h)}\r\n`], /^HTTP\/1\.1 (400|505) /],
  ['header name with a space', (h, p) => [`GET ${p} HTTP/1.1\r\n${H(h)}Bad Header: x\r\n\r\n`], /^HTTP\/1\.1 400 /],
  ['NUL in a header value', (h, p) => [`GET ${p} HTTP/1.1\r\n${H(h)}x-a: a\0b\r\n\r\n`], /^HTTP\/1\.1 400 /],
  ['Content-Length and Transfer-Encoding together', (h, p) => [`POST ${p} HTTP/1.1\r\n${H(h)}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], /^HTTP\/1\.1 400 /],
  ['two different Content-Lengths', (h, p) => [`POST ${p} HTTP/1.1\r\n${H(h)}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`], /^HTTP\/1\.1 400 /],
  ['negative Content-Length', (h, p) => [`POST ${p} HTTP/1.1\r\n${H(h)}Content-Length: -1\r\n\r\n`], /^HTTP\/1\.1 400 /],
  ['bad chunk size', (h, p) => [`POST ${p} HTTP/1.1\r\n${H(h)}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`], /^HTTP\/1\.1 400 /],
  ['headers over 60 KiB', (h, p) => [`GET ${p} HTTP/1.1\r\n${H(h)}x-big: ${'a'.repeat(100 * 1024)}\r\n\r\n`], /^HTTP\/1\.1 431 /],
  ['request URI over 60 KiB', (h, p) => [`GET ${p}?${'q'.repeat(100 * 1024)} HTTP/1.1\r\n${H(h)}\r\n`], /^HTTP\/1\.1 (414|431) /],
  ['HTTP/1.1 without Host', (_h, p) => [`GET ${p} HTTP/1.1\r\n\r\n`], /^HTTP\/1\.1 400 /],
  ['binary noise', () => [Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))], /^HTTP\/1\.1 400 /],
];

test('hostile HTTP to the inbound port and to outbound :15001 gets 400/431; a good client keeps getting 200', async (t) => {
  const inbound = (await httpbin.workload()).address;
  const outbound = (await client.workload()).address;
  // The good client goes through both sidecars: client outbound -> httpbin inbound -> app.
  await pollUntil('httpbin through the mesh', async () => (await send({ host: outbound, port: 15001, path: 'http://httpbin:8000/get' })).status === 200, 15_000);
  const load = new SteadyLoad(() => ({ host: outbound, port: 15001, path: 'http://httpbin:8000/get' }), 2, undefined, undefined, 5);
  // Stalled clients (slowloris) hold connections open on both ports during the whole test.
  const stalled = [inbound, outbound].flatMap((host) => Array.from({ length: 20 }, () => raw(host, host === inbound ? 8000 : 15001, ['GET / HTTP/1.1\r\nHost: x\r\nx-slow: '], 20_000)));
  try {
    const targets: [string, string, number, string, string][] = [
      ['inbound', inbound, 8000, `${inbound}:8000`, '/get'],
      ['outbound', outbound, 15001, 'httpbin:8000', 'http://httpbin:8000/get'],
    ];
    const wrong: string[] = [];
    for (const [where, host, port, hostHeader, path] of targets) {
      for (const [name, build, want] of CASES) {
        const reply = await raw(host, port, build(hostHeader, path));
        if (!want.test(reply)) wrong.push(`${where}: ${name}: got ${JSON.stringify(reply.split('\r\n')[0].slice(0, 80))}`);
      }
      // A bad second request on a keep-alive connection, after a good one was answered.
      const reused = await raw(host, port, [`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\n`, `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nBad Header: x\r\n\r\n`]);
      if (!/^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 400 /.test(reused)) wrong.push(`${where}: good then bad on one connection: got ${JSON.stringify(reused.replace(/\r\n(?!HTTP)[^]*?(?=HTTP\/1\.1|$)/g, ' ').slice(0, 120))}`);
    }
    assert.deepEqual(wrong, []);
    await pollUntil('more good requests after the attacks', () => Promise.resolve(load.successes() > 50), 10_000);
  } finally {
    const r = await load.stop();
    t.diagnostic(`good client: ${r.total} requests, ${r.failures.length} failed`);
    assert.deepEqual(r.failures, [], 'the good client saw failures');
  }
  const ok = await send({ host: inbound, port: 8000, path: '/get' });
  assert.equal(ok.status, 200, 'the inbound port still serves after the attacks');
  void stalled; // the stalled sockets end at their own timeout or when the mesh stops
});

// Found by this file, in src/proxy (reported, not fixed here): Envoy answers 431 past
// max_headers_count (default 100) and answers pipelined requests in order.
const targetsOf = async (): Promise<[string, string, number, string, string][]> => {
  const inbound = (await httpbin.workload()).address;
  const outbound = (await client.workload()).address;
  return [['inbound', inbound, 8000, `${inbound}:8000`, '/get'], ['outbound', outbound, 15001, 'httpbin:8000', 'http://httpbin:8000/get']];
};

test('10 000 small headers (over max_headers_count 100) get 431', async () => {
  for (const [where, host, port, hostHeader, path] of await targetsOf()) {
    const reply = await raw(host, port, [`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n${'x-h: 1\r\n'.repeat(10_000)}\r\n`]);
    assert.match(reply.slice(0, 20), /^HTTP\/1\.1 431 /, where);
  }
});

test('pipelined good then bad request: 200 then 400', async () => {
  for (const [where, host, port, hostHeader, path] of await targetsOf()) {
    const reply = await raw(host, port, [`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\nGET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nBad Header: x\r\n\r\n`]);
    assert.ok(/^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 400 /.test(reply), `${where}: ${reply.slice(0, 40)}`);
  }
});
