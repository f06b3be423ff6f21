// `weft run` owns its workload's lifecycle: killed outright (SIGKILL), its sidecar and its app (and
// what the app started) go away and the workload is deregistered; SIGTERM or a terminal's Ctrl-C
// (SIGINT to the whole process group) stops it gracefully: out of the endpoints, peers drop it while
// the app and its sidecar still serve, then the app gets the signal, in-flight requests finish, the
// workload is deregistered and the sidecar drains.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { TestMesh, ROOT, WEFT, type RunningWorkload } from '../helpers/mesh.js';
import { SteadyLoad, alive, pollUntil, processTree, send, summarise } from './helpers.js';
import { exited } from '../../src/cli/processes.js';

const APP = join(ROOT, 'dist', 'test', 'e2e', 'apps', 'lifecycle-app.js');
const CLUSTER = 'outbound|9080||life.default.svc.cluster.local';
let mesh: TestMesh | undefined;
let client: RunningWorkload;
let keeper: RunningWorkload;
/** Replicas started up front (in parallel: each `weft run` takes seconds to start on a busy machine). */
const replicas = new Map<string, RunningWorkload>();

before(async () => {
  // A long grace: a workload that leaves within these tests was deregistered, not swept.
  mesh = await TestMesh.start({ workloadGraceMs: 60_000 });
  await mesh.apply(`
apiVersion: v1
kind: Service
metadata: { name: life }
spec:
  selector: { app: life }
  ports: [{ name: http, port: 9080 }]
`);
  let orphan: RunningWorkload, term: RunningWorkload, int: RunningWorkload;
  [client, keeper, orphan, term, int] = await Promise.all([mesh.runClient('life-client'), replica('life-keeper'),
    replica('life-orphan', { SPAWN_CHILD: '1' }), replica('life-term', { EXIT_CODE: '3' }), replica('life-int', { EXIT_CODE: '3' })]);
  replicas.set('orphan', orphan).set('SIGTERM', term).set('SIGINT', int);
});

after(async () => { await mesh?.stop(); });

function replica(name: string, env: NodeJS.ProcessEnv = {}): Promise<RunningWorkload> {
  return mesh!.run(['--service', 'life', '--port', '9080:http', '--name', name], [process.execPath, APP], env);
}

/** Endpoint addresses of the `life` cluster at the client's sidecar. */
async function endpoints(): Promise<string[]> {
  const res = await fetch(`http://${(await client.workload()).address}:15000/config_dump`);
  const dump = await res.json() as { configs: { '@type': string; dynamic_endpoint_configs?: { endpoint_config: { cluster_name: string; endpoints?: { lb_endpoints?: { endpoint: { address: { socket_address: { address: string } } } }[] }[] } }[] }[] };
  const eds = dump.configs.find((c) => c['@type'].endsWith('EndpointsConfigDump'));
  const cla = eds?.dynamic_endpoint_configs?.find((e) => e.endpoint_config.cluster_name === CLUSTER);
  return (cla?.endpoint_config.endpoints ?? []).flatMap((l) => (l.lb_endpoints ?? []).map((e) => e.endpoint.address.socket_address.address)).sort();
}

const pidIn = (out: string, what: string): number => Number(new RegExp(`${what} pid (\\d+)`).exec(out)?.[1] ?? 0);

test('weft run SIGKILLed (kill -9 of its process group): its sidecar, its app and the app\'s own child exit, and the workload is deregistered', async (t) => {
  const w = replicas.get('orphan')!;
  await pollUntil('app and grandchild pids printed', () => Promise.resolve(pidIn(w.output(), 'grandchild') > 0), 10_000);
  const app = pidIn(w.output(), 'app');
  const grandchild = pidIn(w.output(), 'grandchild');
  const tree = [...processTree(w.child.pid!), app, grandchild];
  assert.ok(alive(tree).length >= 4, `weft run, sidecar, app and grandchild alive: ${tree.join(',')}`);
  const address = (await w.workload()).address;
  await pollUntil('the orphan among the endpoints', async () => (await endpoints()).includes(address), 10_000);

  process.kill(-w.child.pid!, 'SIGKILL'); // weft run's group: the sidecar and the app have their own
  const t0 = Date.now();
  await pollUntil('sidecar, app and grandchild gone', () => Promise.resolve(alive(tree).length === 0), 10_000)
    .catch((e: Error) => { throw new Error(`${e.message}: still alive ${alive(tree).join(',')}\n${w.output()}`); });
  t.diagnostic(`every process gone ${Date.now() - t0} ms after SIGKILL`);
  // Deregistered by the orphaned sidecar, long before the 60 s grace would have swept it.
  await pollUntil('workload deregistered', () => Promise.resolve(mesh!.weftd.workloads.get('default', w.name) === undefined), 5000);
  await pollUntil('endpoint gone at the client', async () => !(await endpoints()).includes(address), 5000);
});

for (const how of ['SIGTERM', 'SIGINT to the process group'] as const) {
  test(`${how} to weft run under load: out of the endpoints before the app is signalled, new and in-flight requests served, no request fails, everything exits`, async (t) => {
    const w = replicas.get(how === 'SIGTERM' ? 'SIGTERM' : 'SIGINT')!;
    const address = (await w.workload()).address;
    const tree = processTree(w.child.pid!);
    assert.ok(tree.length >= 3, `weft run, sidecar and app: ${tree.join(',')}`);
    const live = (await Promise.all([...replicas.values(), keeper].filter((r) => r.child.exitCode === null && r.child.signalCode === null).map(async (r) => (await r.workload()).address))).sort();
    await pollUntil('the live replicas at the client', async () => JSON.stringify(await endpoints()) === JSON.stringify(live), 10_000);
    const clientAddr = (await client.workload()).address;
    const load = new SteadyLoad(() => ({ host: clientAddr, port: 15001, path: 'http://life:9080/hello' }), 4, (r) => /instance: (\S+)/.exec(r.body)?.[1] ?? '?');
    try {
      await pollUntil('load reaching this replica and the keeper', () => Promise.resolve((load.result.counts.get(w.name) ?? 0) > 20 && (load.result.counts.get(keeper.name) ?? 0) > 20), 10_000);
      // In flight at this replica when the signal comes: straight to its inbound listener.
      const slow = send({ host: address, port: 9080, path: '/slow?ms=1500' }, undefined, 10_000);
      await pollUntil('slow request at the app', () => Promise.resolve(w.output().includes('slow request')), 5000);
      // Watch the client's endpoints to know when this replica left them.
      let droppedAt = 0;
      const watch = pollUntil('endpoint dropped at the client', async () => {
        const gone = !(await endpoints()).includes(address);
        if (gone) droppedAt = Date.now();
        return gone;
      }, 10_000);
      if (how === 'SIGTERM') process.kill(w.child.pid!, 'SIGTERM');
      else process.kill(-w.child.pid!, 'SIGINT'); // what a terminal's Ctrl-C does
      await watch;
      // Out of the endpoints but still serving until the app is stopped: a new connection to the
      // replica is answered (its sidecar keeps the inbound listener while the app runs).
      const late = await send({ host: address, port: 9080, path: '/hello' }).catch((e: Error) => ({ status: 0, body: e.message }));
      const lateAt = Date.now();
      const { code } = await exited(w.child);
      const out = w.output();
      const signalled = Number(/got SIG\w+ at (\d+)/.exec(out)?.[1] ?? 0);
      assert.ok(signalled > 0, `the app got a signal:\n${out}`);
      assert.match(out, new RegExp(`got ${how === 'SIGTERM' ? 'SIGTERM' : 'SIGINT'} at`), 'the app got the signal weft run received, once');
      assert.equal((out.match(/got SIG/g) ?? []).length, 1, out);
      t.diagnostic(`endpoint dropped at the client ${signalled - droppedAt} ms before the app was signalled`);
      assert.ok(droppedAt <= signalled, `the app was signalled ${droppedAt - signalled} ms before the client dropped its endpoint`);
      assert.equal(code, 3, `weft run exits with the app's code:\n${out}`);
      assert.ok(late.status === 200 || lateAt > signalled, `a new connection after the endpoint left the client, before the app was signalled: ${late.status} ${late.body}`);
      const r = await slow;
      assert.equal(r.status, 200, 'the request in flight at the app finished');
      assert.equal(mesh!.weftd.workloads.get('default', w.name), undefined);
      await pollUntil('sidecar and app gone', () => Promise.resolve(alive(tree).length === 0), 5000)
        .catch((e: Error) => { throw new Error(`${e.message}: ${alive(tree).join(',')}`); });
      const atExit = load.successes();
      await pollUntil('load continues on the keeper', () => Promise.resolve(load.successes() > atExit + 50), 10_000);
    } finally {
      const r = await load.stop();
      t.diagnostic(`${r.total} requests: ${[...r.counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      assert.deepEqual(summarise(r.failures), [], `${r.failures.length} of ${r.total} requests failed`);
    }
  });
}

test('SIGTERM while the sidecar is still starting: weft run exits 143, leaving no sidecar and no registration', async () => {
  const name = 'life-early';
  const child = spawn(process.execPath, [WEFT, 'run', '--name', name, '--control-plane', mesh!.weftd.apiUrl, '--', process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'],
    { env: { ...process.env, WEFT_CONTROL_PLANE: mesh!.weftd.apiUrl }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  try {
    let tree: number[] = [];
    // Registered, and its sidecar process started: the signal comes while the sidecar is starting.
    await pollUntil('workload registered and sidecar spawned', () => {
      tree = processTree(child.pid!);
      return Promise.resolve(!!mesh!.weftd.workloads.get('default', name) && tree.length >= 2);
    }, 20_000);
    process.kill(child.pid!, 'SIGTERM');
    const t0 = Date.now();
    const { code } = await exited(child);
    assert.equal(code, 143, out);
    assert.ok(Date.now() - t0 < 10_000, `weft run took ${Date.now() - t0} ms to exit`);
    assert.equal(mesh!.weftd.workloads.get('default', name), undefined, 'deregistered');
    await pollUntil('nothing left', () => Promise.resolve(alive(tree).length === 0), 5000)
      .catch((e: Error) => { throw new Error(`${e.message}: ${alive(tree).join(',')}\n${out}`); });
  } finally {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
});
