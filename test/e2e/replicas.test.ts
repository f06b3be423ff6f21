// A workload that exits leaves its service's endpoints, and a steady load on the service sees no
// failed request: the other replicas take over (Istio's default retry policy covers the requests
// that raced with the exit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { TestMesh, SAMPLES, type RunningWorkload } from '../helpers/mesh.js';
import { SteadyLoad, pollUntil, send, summarise, type Reply } from './helpers.js';

let mesh: TestMesh | undefined;
let client: RunningWorkload;
let replicas: RunningWorkload[] = [];

const instance = (r: Reply): string => /instance: (\S+)/.exec(r.body)?.[1] ?? '?';

before(async () => {
  mesh = await TestMesh.start({ workloadGraceMs: 2000 });
  await mesh.apply(`
apiVersion: v1
kind: Service
metadata: { name: hello }
spec:
  selector: { app: hello }
  ports: [{ name: http, port: 9080 }]
`);
  const hello = (i: number) => mesh!.run(['--service', 'hello', '--port', '9080:http', '--version', 'v1', '--name', `hello-${i}`],
    [process.execPath, `${SAMPLES}/helloworld/helloworld.js`]);
  [client, ...replicas] = await Promise.all([mesh.runClient('sleep'), hello(1), hello(2), hello(3)]);
});

after(async () => { await mesh?.stop(); });

/** Endpoint addresses of the client's `hello` cluster, as its sidecar holds them. */
async function helloEndpoints(): Promise<string[]> {
  const res = await fetch(`http://${(await client.workload()).address}:15000/config_dump`);
  const dump = await res.json() as { configs: { '@type': string; dynamic_endpoint_configs?: { endpoint_config: { cluster_name: string; endpoints?: { lb_endpoints?: { endpoint: { address: { socket_address: { address: string } } } }[] }[] } }[] }[] };
  const eds = dump.configs.find((c) => c['@type'].endsWith('EndpointsConfigDump'));
  const cla = eds?.dynamic_endpoint_configs?.find((e) => e.endpoint_config.cluster_name === 'outbound|9080||hello.default.svc.cluster.local');
  return (cla?.endpoint_config.endpoints ?? []).flatMap((l) => (l.lb_endpoints ?? []).map((e) => e.endpoint.address.socket_address.address)).sort();
}

/** The app process `weft run` started (its child running helloworld.js). */
function appPid(w: RunningWorkload): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(w.child.pid)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes('helloworld.js'));
  assert.ok(line, `no helloworld child under weft run ${w.name}:\n${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

async function addresses(ws: RunningWorkload[]): Promise<string[]> {
  return (await Promise.all(ws.map(async (w) => (await w.workload()).address))).sort();
}

async function steadyLoad(): Promise<SteadyLoad> {
  const addr = (await client.workload()).address;
  const target = () => ({ host: addr, port: 15001, path: 'http://hello:9080/hello' });
  const live = await addresses(replicas.filter((w) => w.child.exitCode === null && w.child.signalCode === null));
  await pollUntil(`${live.length} endpoints at the client`, async () => JSON.stringify(await helloEndpoints()) === JSON.stringify(live), 10_000);
  await pollUntil('every live replica answering', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4 * live.length; i++) seen.add(instance(await send(target())));
    return seen.size === live.length;
  }, 10_000);
  const load = new SteadyLoad(target, 4, instance);
  await pollUntil('load running', () => Promise.resolve(load.successes() > 100), 10_000);
  return load;
}

async function finish(load: SteadyLoad, t: { diagnostic(m: string): void }): Promise<void> {
  const r = await load.stop();
  t.diagnostic(`${r.total} requests: ${[...r.counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  assert.deepEqual(summarise(r.failures), [], `${r.failures.length} of ${r.total} requests failed`);
}

test('one of three replicas exits under steady load: removed from the endpoints, no request fails', async (t) => {
  const load = await steadyLoad();
  try {
    // The app crashes (SIGKILL): `weft run` sees it exit, takes the workload out of the endpoints,
    // and deregisters it and stops its sidecar once the other sidecars have dropped the endpoint.
    const victim = replicas[0];
    process.kill(appPid(victim), 'SIGKILL');
    const rest = await addresses(replicas.slice(1));
    const removed = await pollUntil('endpoint removed at the client', async () => JSON.stringify(await helloEndpoints()) === JSON.stringify(rest), 10_000);
    t.diagnostic(`endpoint gone from the client's sidecar ${removed} ms after the app died`);
    await pollUntil('victim gone from weftd', () => Promise.resolve(mesh!.weftd.workloads.get('default', victim.name) === undefined), 5000);
    await pollUntil('weft run of the victim exited', () => Promise.resolve(victim.child.exitCode !== null), 15_000);
    const atRemoval = load.successes();
    await pollUntil('load after removal', () => Promise.resolve(load.successes() > atRemoval + 200), 10_000);
  } finally {
    await finish(load, t);
  }
});

test('a replica killed outright (weft run, sidecar and app: no deregistration): dropped after the grace period, no request fails', {
  // Traced with debug logging in the client's sidecar (20 runs at 3c4c5d4 + 153ac92, 30 before):
  // - before the H1 pool (3c4c5d4) about half the runs failed, mostly when the grace sweep's EDS update
  //   reached the client: a connect to the dead endpoint still pending (connects there fail at once and
  //   are retried, so one nearly always is) died with "socket hang up", because Endpoint.release()
  //   called http.Agent.destroy(), which destroys in-use sockets; H1Pool.close() lets them finish.
  // - now about 1 run in 10 fails, 1 request, at the kill: (a) a request on a reused connection is reset
  //   ("socket hang up"/"read ECONNRESET") and retried as a stale keep-alive connection on the same,
  //   dying host, whose new connection is reset too ("read ECONNRESET", or "connect ECONNRESET", which
  //   isConnectFailure() does not count); (b) a request on a new connection to the dying sidecar is
  //   reset before any response byte ("read ECONNRESET"): Envoy with Istio's default retry_on (no
  //   "reset") fails that one too. Neither is retried: 503 UC "connection termination" from the client's sidecar.
  todo: 'a request in flight at the replica when it is killed: reset, not retried (stale retry to the same dying host; a reset on a new connection); see the comment above',
}, async (t) => {
  const load = await steadyLoad();
  try {
    const second = replicas[1];
    const pids = [second.child.pid!, ...execFileSync('ps', ['-o', 'pid=', '--ppid', String(second.child.pid)], { encoding: 'utf8' }).split('\n').map(Number).filter(Boolean)];
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const last = await addresses(replicas.slice(2));
    const dropped = await pollUntil('killed replica dropped after the grace period', async () => JSON.stringify(await helloEndpoints()) === JSON.stringify(last), 15_000);
    t.diagnostic(`killed replica dropped ${dropped} ms after SIGKILL (grace 2000 ms)`);
    const atDrop = load.successes();
    await pollUntil('load after the drop', () => Promise.resolve(load.successes() > atDrop + 200), 10_000);
  } finally {
    await finish(load, t);
  }
});
