// Seed 000 section 9.7 with real processes: the httpbin circuit breaker (9.7.1) driven by `weft load`
// from a client workload, the 2 s timeout in front of a 10 s fault delay (9.7.2), and 3 retries
// against a 100% 503 abort (9.7.3), all with the seeds' own YAML.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { TestMesh, SAMPLES, WEFT, type RunningWorkload } from '../helpers/mesh.js';
import { SEEDS, pollUntil, send } from '../e2e/helpers.js';
import { REPLICA, clusterStat, code, loadVia, outbound, replica, seen, statsText } from './helpers.js';

let mesh: TestMesh | undefined;
let client: RunningWorkload;
let nginx: RunningWorkload;
let tomcat: RunningWorkload;
let clientAddr = '';
const PORT_80_OK = process.getuid?.() === 0 || Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()) <= 80;

// hostile.test.ts does the same: the seed's httpbin Service maps 8000 -> 80; Weft's sample listens where told.
const HTTPBIN_SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: httpbin }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000 }]
`;

before(async () => {
  mesh = await TestMesh.start();
  await mesh.apply(HTTPBIN_SERVICE);
  if (PORT_80_OK) await mesh.applyFile(join(SEEDS, '000-06-nginx-tomcat-svc.yaml'));
  await Promise.all([
    mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000),
    mesh.runClient('fortio').then((c) => { client = c; }),
    ...(PORT_80_OK ? [
      // nginx proxies every request to tomcat through its sidecar, as the seed's nginx.conf does.
      mesh.run(['--service', 'nginx-svc', '--port', '80:http', '--labels', 'server=nginx,app=web', '--name', 'nginx'], [process.execPath, REPLICA], { RELAY_TO: 'http://tomcat-svc:8080' }).then((w) => { nginx = w; }),
      replica(mesh, 'tomcat-svc', 8080, 'server=tomcat,app=web', {}, 'tomcat').then((w) => { tomcat = w; }),
    ] : []),
  ]);
  clientAddr = (await client.workload()).address;
  await pollUntil('httpbin through the client sidecar', async () => (await send({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/get' })).status === 200, 15_000);
  // The seed's DestinationRule only once httpbin answers: its outlier detection (1 gateway error,
  // 3 min ejection) would otherwise eject the only host on a 503 from a cold start.
  await mesh.applyFile(join(SEEDS, '000-05-httpbin-circuit-breaker.yaml'));
  await pollUntil('the circuit breaker at the client sidecar', async () => {
    const dump = await (await fetch(`http://${clientAddr}:15000/config_dump`)).json() as { configs: { dynamic_active_clusters?: { cluster: { name: string; circuit_breakers?: { thresholds?: { max_pending_requests?: unknown }[] } } }[] }[] };
    const c = dump.configs.flatMap((x) => x.dynamic_active_clusters ?? []).find((x) => x.cluster.name === outbound('httpbin', 8000));
    const v = c?.cluster.circuit_breakers?.thresholds?.[0]?.max_pending_requests;
    return Number((v as { value?: unknown } | undefined)?.value ?? v) === 1;
  }, 15_000);
});

after(async () => { await mesh?.stop(); });

test('9.7.1 circuit breaker: -c 2 and -c 20 see 503 UO, counted by upstream_rq_pending_overflow', async (t) => {
  const cluster = outbound('httpbin', 8000);
  const before0 = await clusterStat(clientAddr, cluster, 'upstream_rq_pending_overflow');
  // -c 2 -n 20 is a race (a pending request while the one connection opens); Envoy shows a few 503s.
  let small = await loadVia(clientAddr, 'http://httpbin:8000/get', { c: 2, n: 20 });
  let smallTotal503 = code(small, 503);
  for (let i = 0; i < 4 && smallTotal503 === 0; i++) {
    small = await loadVia(clientAddr, 'http://httpbin:8000/get', { c: 2, n: 20 });
    smallTotal503 += code(small, 503);
  }
  assert.equal(code(small, 200) + code(small, 503), 20, `only 200 and 503: ${JSON.stringify([...small.retCodes])}`);
  assert.ok(smallTotal503 > 0, '-c 2 -n 20 sees some 503');
  t.diagnostic(`-c 2 -n 20: ${JSON.stringify([...small.retCodes])} (503s over all -c 2 runs: ${smallTotal503})`);
  const big = await loadVia(clientAddr, 'http://httpbin:8000/get', { c: 20, n: 50 });
  assert.equal(code(big, 200) + code(big, 503), 50, JSON.stringify([...big.retCodes]));
  t.diagnostic(`-c 20 -n 50: ${JSON.stringify([...big.retCodes])} in ${Math.round(big.actualDurationMs)} ms`);
  assert.ok(code(big, 503) >= 10, `-c 20 -n 50: most calls overflow, got ${code(big, 503)} 503s`);
  assert.ok(code(big, 200) >= 1, 'some calls pass');
  const overflow = (await clusterStat(clientAddr, cluster, 'upstream_rq_pending_overflow')) - before0;
  // Every 503 of all runs was an overflow (the counter counts the failed -c 2 runs too).
  assert.ok(overflow >= code(big, 503) + code(small, 503), `pending_overflow ${overflow}`);
  assert.ok(await clusterStat(clientAddr, cluster, 'upstream_cx_overflow') > 0, 'requests found the one connection busy');
  assert.match(await statsText(clientAddr), new RegExp(`cluster\\.${cluster.replace(/[|.]/g, '\\$&')}\\.upstream_rq_pending_overflow: ${overflow + before0}\\n`));
  const one = await send({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/get' });
  assert.equal(one.status, 200);
  // A single overflowing call shows Envoy's answer: 503, x-envoy-overloaded, reset reason overflow.
  const burst = await Promise.all(Array.from({ length: 10 }, () => send({ host: clientAddr, port: 15001, path: 'http://httpbin:8000/delay/0.2' })));
  const uo = burst.find((r) => r.status === 503);
  assert.ok(uo, 'a burst of 10 overflows');
  assert.equal(uo.headers['x-envoy-overloaded'], 'true');
  assert.match(uo.body, /reset reason: overflow/);
});

test('9.7.1 as the seed types it: weft run --name fortio -- weft load -c 20 -qps 0 -n 50 prints Code 503 lines', async (t) => {
  const child = spawn(process.execPath, [WEFT, 'run', '--name', 'fortio-cli', '--control-plane', mesh!.weftd.apiUrl, '--',
    process.execPath, WEFT, 'load', '-c', '20', '-qps', '0', '-n', '50', 'http://httpbin:8000/get'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  t.diagnostic(out.split('\n').filter((l) => l.startsWith('Code ')).join('; '));
  assert.equal(code, 0, out);
  const c503 = Number(/^Code 503 : (\d+)/m.exec(out)?.[1] ?? 0);
  const c200 = Number(/^Code 200 : (\d+)/m.exec(out)?.[1] ?? 0);
  assert.equal(c503 + c200, 50, out);
  assert.ok(c503 >= 10, out);
});

test('9.7.2 timeout: 2 s route timeout in front of a 10 s fault delay answers 504 after 2 s', { skip: PORT_80_OK ? false : 'the seed binds port 80' }, async () => {
  await mesh!.applyFile(join(SEEDS, '000-07-virtual-tomcat.yaml'));
  // Until the timeout is in place the call would take 10 s: wait for the pushed route.
  let took = 0;
  let r = { status: 0, body: '' };
  await pollUntil('nginx-vs timeout in force', async () => {
    const t0 = performance.now();
    // Before the route arrives the call waits 10 s: give up after 3 s and poll again.
    r = await send({ host: clientAddr, port: 15001, path: 'http://nginx-svc/' }, undefined, 3000);
    took = performance.now() - t0;
    return r.status === 504;
  }, 30_000);
  assert.equal(r.status, 504);
  assert.equal(r.body, 'upstream request timeout');
  assert.ok(took >= 1800 && took <= 2200, `504 after ${Math.round(took)} ms`);
  assert.ok(await clusterStat(clientAddr, outbound('nginx-svc', 80), 'upstream_rq_timeout') >= 1);
});

test('9.7.3 retries: attempts 3 against a 100% 503 abort: 503 after exactly 4 attempts', { skip: PORT_80_OK ? false : 'the seed binds port 80' }, async () => {
  await mesh!.applyFile(join(SEEDS, '000-08-virtual-attempt.yaml'));
  const cluster = outbound('nginx-svc', 80);
  await pollUntil('abort in force', async () => (await send({ host: clientAddr, port: 15001, path: 'http://nginx-svc/' }, undefined, 12_000)).status === 503, 30_000);
  const retry0 = await clusterStat(clientAddr, cluster, 'upstream_rq_retry');
  const rq0 = await clusterStat(clientAddr, cluster, 'upstream_rq_503');
  const seen0 = await seen(nginx, 80);
  const tomcat0 = await seen(tomcat, 8080);
  const r = await send({ host: clientAddr, port: 15001, path: 'http://nginx-svc/' });
  assert.equal(r.status, 503);
  assert.match(r.body, /fault filter abort/);
  assert.equal((await seen(nginx, 80)) - seen0, 4, 'nginx saw the call and 3 retries');
  assert.equal((await seen(tomcat, 8080)) - tomcat0, 0, 'the abort happens in nginx\'s sidecar');
  assert.equal((await clusterStat(clientAddr, cluster, 'upstream_rq_retry')) - retry0, 3);
  assert.equal((await clusterStat(clientAddr, cluster, 'upstream_rq_503')) - rq0, 4);
  assert.equal(await clusterStat(clientAddr, cluster, 'upstream_rq_retry_limit_exceeded') >= 1, true);
  void SAMPLES;
});
