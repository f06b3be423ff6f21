// A workload swept while its sidecar could not reach weftd comes back by itself when the sidecar
// reconnects, with no new `weft run`: after a network cut longer than the grace period, and after a
// weftd restart (same data dir) during such a cut. The cut is real: the sidecar reaches weftd's xDS
// through a TCP relay in this test (`weft run --xds-address`), which drops every connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { TestMesh, ROOT, type RunningWorkload } from '../helpers/mesh.js';
import { startTestWeftd, uniqueAddressBase } from '../helpers/weftd.js';
import { pollUntil, send } from './helpers.js';

const APP = join(ROOT, 'dist', 'test', 'e2e', 'apps', 'lifecycle-app.js');
const CLUSTER = 'outbound|9080||blip.default.svc.cluster.local';
const GRACE_MS = 1000;
const base = uniqueAddressBase();
let mesh: TestMesh | undefined;
let relay: Relay;
let client: RunningWorkload;
let cut: RunningWorkload;
let direct: RunningWorkload;

/** A TCP relay to weftd's xDS port that can drop every connection and refuse new ones. */
class Relay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: number) {}

  async open(): Promise<void> {
    const server = net.createServer((down) => {
      const up = net.connect(this.target, '127.0.0.1');
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => { down.destroy(); up.destroy(); });
        s.on('close', () => { this.sockets.delete(s); down.destroy(); up.destroy(); });
      }
      down.pipe(up);
      up.pipe(down);
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.port, '127.0.0.1', resolve); });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}

before(async () => {
  mesh = await TestMesh.start({ workloadGraceMs: GRACE_MS, addressBase: base });
  relay = new Relay(Number(mesh.weftd.xdsAddress.split(':')[1]));
  await relay.open();
  await mesh.apply(`
apiVersion: v1
kind: Service
metadata: { name: blip }
spec:
  selector: { app: blip }
  ports: [{ name: http, port: 9080 }]
`);
  const replica = (name: string, extra: string[] = []) => mesh!.run(['--service', 'blip', '--port', '9080:http', '--name', name, ...extra], [process.execPath, APP]);
  [client, cut, direct] = await Promise.all([mesh.runClient('blip-client'), replica('blip-cut', ['--xds-address', `127.0.0.1:${relay.port}`]), replica('blip-direct')]);
});

after(async () => {
  await relay?.cut();
  await mesh?.stop();
});

async function endpoints(): Promise<string[]> {
  const res = await fetch(`http://${(await client.workload()).address}:15000/config_dump`);
  const dump = await res.json() as { configs: { '@type': string; dynamic_endpoint_configs?: { endpoint_config: { cluster_name: string; endpoints?: { lb_endpoints?: { endpoint: { address: { socket_address: { address: string } } } }[] }[] } }[] }[] };
  const eds = dump.configs.find((c) => c['@type'].endsWith('EndpointsConfigDump'));
  const cla = eds?.dynamic_endpoint_configs?.find((e) => e.endpoint_config.cluster_name === CLUSTER);
  return (cla?.endpoint_config.endpoints ?? []).flatMap((l) => (l.lb_endpoints ?? []).map((e) => e.endpoint.address.socket_address.address)).sort();
}

/** Requests through the client's sidecar until `name` answers one. */
async function answers(name: string): Promise<boolean> {
  const addr = (await client.workload()).address;
  for (let i = 0; i < 10; i++) {
    const r = await send({ host: addr, port: 15001, path: 'http://blip:9080/hello' });
    if (r.status === 200 && r.body.includes(`instance: ${name}`)) return true;
  }
  return false;
}

/** Cuts the relayed sidecar off until weftd has swept its workload and the client dropped its endpoint. */
async function cutUntilSwept(address: string): Promise<number> {
  await relay.cut();
  const t0 = Date.now();
  await pollUntil('workload swept', () => Promise.resolve(mesh!.weftd.workloads.get('default', cut.name) === undefined), 10_000);
  await pollUntil('endpoint gone at the client', async () => !(await endpoints()).includes(address), 5000);
  return Date.now() - t0;
}

test('a sidecar cut off from weftd longer than the grace period: swept, then registered again when it reconnects', async (t) => {
  const address = (await cut.workload()).address;
  await pollUntil('both replicas at the client', async () => (await endpoints()).length === 2, 10_000);
  t.diagnostic(`swept ${await cutUntilSwept(address)} ms after the cut (grace ${GRACE_MS} ms)`);
  assert.equal(cut.child.exitCode, null, 'weft run keeps running');
  await relay.open();
  const t0 = Date.now();
  await pollUntil('registered again', () => Promise.resolve(mesh!.weftd.workloads.get('default', cut.name)?.address === address), 10_000);
  assert.equal(mesh!.weftd.workloads.get('default', cut.name)?.ready, true, 'ready, as it was');
  await pollUntil('endpoint back at the client', async () => (await endpoints()).includes(address), 5000);
  await pollUntil('the replica answers again', () => answers(cut.name), 5000);
  t.diagnostic(`serving again ${Date.now() - t0} ms after the network came back`);
});

test('weftd restarted (same data dir) while a sidecar is cut off: every workload comes back as its sidecar reconnects', async (t) => {
  const address = (await cut.workload()).address;
  await pollUntil('both replicas at the client', async () => (await endpoints()).length === 2, 10_000);
  await cutUntilSwept(address);
  const old = mesh!.weftd;
  const [apiPort, xdsPort] = [Number(new URL(old.apiUrl).port), Number(old.xdsAddress.split(':')[1])];
  await old.close();
  mesh!.weftd = await startTestWeftd({ dataDir: old.dataDir, apiPort, xdsPort, addressBase: base, workloadGraceMs: GRACE_MS });
  const t0 = Date.now();
  // The directly connected sidecars come back on their own; the relayed one once the network does.
  await pollUntil('client and direct replica registered', () => Promise.resolve(!!mesh!.weftd.workloads.get('default', client.name) && !!mesh!.weftd.workloads.get('default', direct.name)), 10_000);
  assert.equal(mesh!.weftd.workloads.get('default', cut.name), undefined, 'still cut off: not registered');
  await relay.open();
  await pollUntil('the cut-off workload registered again', () => Promise.resolve(mesh!.weftd.workloads.get('default', cut.name)?.address === address), 10_000);
  await pollUntil('both endpoints at the client', async () => (await endpoints()).length === 2, 5000);
  await pollUntil('the cut-off replica answers again', () => answers(cut.name), 5000);
  t.diagnostic(`all back ${Date.now() - t0} ms after weftd restarted`);
  for (const w of [client, cut, direct]) assert.equal(w.child.exitCode, null, `weft run ${w.name} still running`);
});
