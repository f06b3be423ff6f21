// The data plane outlives the control plane: weftd (a real `weft up` process) is killed with SIGKILL,
// traffic between two workloads keeps flowing on the last config for 30 s; weftd restarted on the same
// ports and data dir gets the sidecars back (proxy-status) and the next `weft apply` takes effect.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { stopChild } from '../../src/cli/processes.js';
import { captureIO } from '../helpers/io.js';
import { SAMPLES, WEFT, freePort, stopGroup, waitFor } from '../helpers/mesh.js';
import { uniqueAddressBase } from '../helpers/weftd.js';
import { SteadyLoad, pollUntil, runWorkload, type Reply } from './helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'weft-e2e-restart-'));
const children: ChildProcess[] = [];
let weftd: ChildProcess | undefined;
let weftdOut = '';

after(async () => {
  await Promise.all(children.map((c) => stopGroup(c, 5000)));
  if (weftd) await stopChild(weftd, 5000);
  rmSync(dataDir, { recursive: true, force: true });
});

const HELLO = (subset: string) => `
apiVersion: v1
kind: Service
metadata: { name: hello }
spec:
  selector: { app: hello }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: hello }
spec:
  host: hello
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: hello }
spec:
  hosts: [hello]
  http: [{ route: [{ destination: { host: hello, subset: ${subset} } }] }]
`;

async function startWeftdProcess(apiPort: number, xdsPort: number, base: string): Promise<string> {
  const env = { ...process.env };
  delete env.WEFT_TOKEN; // this weftd keeps its own admin token in its data dir
  weftd = spawn(process.execPath, [WEFT, 'up', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--address-base', base, '--no-gateway'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  weftd.stdout!.on('data', (c: Buffer) => { weftdOut += c.toString(); });
  weftd.stderr!.on('data', (c: Buffer) => { weftdOut += c.toString(); });
  const api = `http://127.0.0.1:${apiPort}`;
  await waitFor('weftd', async () => {
    const res = await fetch(`${api}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status < 500;
  }, 15_000, weftd).catch((e: Error) => { throw new Error(`${e.message}\n--- weftd output:\n${weftdOut}`); });
  return api;
}

const tokenFile = join(dataDir, 'admin-token');
const token = (): string | undefined => (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
const cli = (api: string) => captureIO({ WEFT_CONTROL_PLANE: api, WEFT_DATA_DIR: dataDir, WEFT_TOKEN: token() });
const version = (r: Reply): string => /Hello version: (\S+),/.exec(r.body)?.[1] ?? '?';

async function apply(api: string, yaml: string): Promise<void> {
  const file = join(dataDir, `apply-${Date.now()}.yaml`);
  writeFileSync(file, yaml);
  const io = cli(api);
  assert.equal(await main(['apply', '-f', file], io), 0, io.stderr());
}

test('weftd killed: traffic flows 30 s on the last config; restarted: sidecars reconnect and the next apply takes effect', async (t) => {
  const [apiPort, xdsPort] = [await freePort(), await freePort()];
  const base = uniqueAddressBase();
  let api = await startWeftdProcess(apiPort, xdsPort, base);
  await apply(api, HELLO('v1'));
  const hello = (v: string) => runWorkload(api, token(), `hello-${v}`, ['--service', 'hello', '--port', '9080:http', '--version', v],
    [process.execPath, `${SAMPLES}/helloworld/helloworld.js`], { SERVICE_VERSION: v, WEFT_DATA_DIR: dataDir });
  const started = await Promise.all([hello('v1'), hello('v2'),
    runWorkload(api, token(), 'sleep', [], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'], { WEFT_DATA_DIR: dataDir })]);
  children.push(...started.map((s) => s.child));
  const client = started[2].address;
  const target = () => ({ host: client, port: 15001, path: 'http://hello:9080/hello' });
  const load = new SteadyLoad(target, 2, version, undefined, 5);
  try {
    await pollUntil('hello v1 answering', () => Promise.resolve(load.last(5).length === 5 && load.last(5).every((v) => v === 'v1')), 15_000);
    const beforeKill = load.result.failures.length; // requests before endpoints arrived may fail: not counted
    weftd!.kill('SIGKILL');
    await new Promise((r) => weftd!.once('exit', r));
    const killedAt = load.elapsed();
    const okAtKill = load.successes();
    await pollUntil('30 s without weftd', () => Promise.resolve(load.elapsed() > killedAt + 30_000), 40_000);
    const outage = load.result.timeline.filter(([ms]) => ms > killedAt);
    assert.deepEqual(load.result.failures.slice(beforeKill), [], 'requests failed while weftd was down');
    assert.ok(load.successes() - okAtKill > 200, `only ${load.successes() - okAtKill} requests in 30 s without weftd`);
    assert.ok(outage.every(([, v]) => v === 'v1'), 'the last config (all v1) kept applying');

    api = await startWeftdProcess(apiPort, xdsPort, base);
    const reconnectStart = Date.now();
    await pollUntil('3 sidecars SYNCED in weft proxy-status', async () => {
      const io = cli(api);
      if (await main(['proxy-status'], io) !== 0) return false;
      const rows = io.stdout().split('\n').filter((l) => /^(hello-v1|hello-v2|sleep)\.default\s/.test(l));
      return rows.length === 3 && rows.every((l) => (l.match(/SYNCED/g) ?? []).length === 4);
    }, 20_000);
    t.diagnostic(`sidecars SYNCED again ${Date.now() - reconnectStart} ms after weftd came back`);
    await apply(api, HELLO('v2'));
    const applied = Date.now();
    await pollUntil('traffic on v2 after the apply', () => Promise.resolve(load.last(10).every((v) => v === 'v2')), 5000).catch((e: Error) => {
      throw new Error(`${e.message}; last replies ${load.last(10).join(',')}; failures ${load.result.failures.slice(-5).join(' | ')}`);
    });
    t.diagnostic(`apply after restart took effect in ${Date.now() - applied} ms`);
    const r = await load.stop();
    assert.deepEqual(r.failures.slice(beforeKill), [], 'no request failed across the kill, the restart and the change');
  } finally {
    await load.stop();
  }
});
