// Control-plane benchmark through the whole path: `weft apply` (REST) -> store -> snapshot ->
// translation -> ADS push -> ACK from N simulated sidecars subscribed like Envoy (CDS/LDS wildcard,
// then EDS/RDS by name). Mesh: S services x 3 subsets, S VirtualServices, 3 workloads per service.
// Usage: node dist/bench/control-plane.js [N,N,...] [S] [changes] [sotw|delta]    e.g. 100 1000 5
// The simulated sidecars run in a child process, so weftd's CPU and RSS are its own. xDS is served
// in plaintext on loopback (weftd --insecure-xds): TLS costs are the data plane's story.
// `npm run bench` calls runControlPlaneBench().
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAdsClient, type AdsClient } from '../src/xds/client.js';
import { TYPE } from '../src/xds/protos.js';
import { edsNames, rdsNames } from '../src/agent/agent.js';
import { startWeftd } from '../src/weftd/weftd.js';
import { ApiClient } from '../src/api/client.js';
import type { Resource } from '../src/model/index.js';

const SELF = fileURLToPath(import.meta.url);

function meshResources(services: number): Resource[] {
  const out: Resource[] = [];
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080 }] } });
    out.push({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' },
      spec: { host: name, subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })) } });
    out.push(virtualService(name, 90));
  }
  return out;
}

function virtualService(name: string, w1: number): Resource {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' },
    spec: { hosts: [name], http: [{ route: [{ destination: { host: name, subset: 'v1' }, weight: w1 }, { destination: { host: name, subset: 'v2' }, weight: 100 - w1 }] }] } };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const rssMB = () => process.memoryUsage().rss / 1048576;
const cpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

type Protocol = 'sotw' | 'delta';

/** Child process: N sidecars subscribed like Envoy; reports every RDS ACK to the parent. */
function runClients(xds: string, from: number, to: number, protocol: Protocol): void {
  const clients: AdsClient[] = [];
  for (let i = from; i < to; i++) {
    const id = `sidecar~127.88.${i >> 8}.${(i & 255) + 1}~bench-${i}.default~default.svc.cluster.local`;
    const c = createAdsClient({ address: xds, protocol, node: { id, metadata: { NAMESPACE: 'default', WORKLOAD_NAME: `bench-${i}` }, locality: {} } });
    c.subscribe(TYPE.cluster, '*', (u) => { c.subscribe(TYPE.endpoint, edsNames(u.resources), () => undefined); });
    c.subscribe(TYPE.listener, '*', (u) => { c.subscribe(TYPE.route, rdsNames(u.resources), () => undefined); });
    c.on('ack', (e) => { if (e.typeUrl === TYPE.route) process.send?.({ i, version: e.version }); });
    c.start();
    clients.push(c);
  }
  const stop = (): void => { for (const c of clients) c.close(); process.exit(0); };
  process.on('message', (m) => { if (m === 'stop') stop(); });
  process.on('disconnect', stop); // the parent is gone: never linger
}

export interface ControlPlaneBenchOptions {
  /** Numbers of simulated sidecars, one run each. */
  sidecars: number[];
  services: number;
  /** VirtualService changes timed per run. */
  changes: number;
  protocol?: Protocol;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface ControlPlaneRow {
  sidecars: number; services: number; protocol: Protocol; initialApplyMs: number; allSyncedMs: number;
  p50Ms: number; p99Ms: number; cpuSecondsPerPush: number; mbPerSidecar: number; rssConnectedMB: number;
}

const HEADER = '| sidecars | xDS | mesh | initial apply ms | all synced ms | apply -> all ACKed p50 ms | p99 ms | weftd CPU s per push | weftd MB per sidecar |\n|---|---|---|---|---|---|---|---|---|';

export function controlPlaneTable(rows: readonly ControlPlaneRow[]): string {
  return `${HEADER}\n${rows.map((r) => `| ${r.sidecars} | ${r.protocol} | ${r.services} x 3 subsets, ${r.services} VS | ${r.initialApplyMs} | ${r.allSyncedMs} | ` +
    `${r.p50Ms.toFixed(0)} | ${r.p99Ms.toFixed(0)} | ${r.cpuSecondsPerPush.toFixed(3)} | ${r.mbPerSidecar.toFixed(2)} |`).join('\n')}`;
}

/** One run per sidecar count: weftd in this process, the sidecars in a child process. */
export async function runControlPlaneBench(opts: ControlPlaneBenchOptions): Promise<ControlPlaneRow[]> {
  const { services, changes } = opts;
  const protocol = opts.protocol ?? 'sotw';
  const log = opts.log ?? ((l: string) => process.stderr.write(`control-plane bench: ${l}\n`));
  const rows: ControlPlaneRow[] = [];
  for (const n of opts.sidecars) {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-bench-cp-'));
    const weftd = await startWeftd({ dataDir, apiPort: 0, xdsPort: 0, addressBase: '127.87', log: () => {}, debounceMs: 10, insecureXds: true });
    const api = new ApiClient(weftd.apiUrl, { token: weftd.adminToken });
    let t = Date.now();
    await api.apply(meshResources(services), {});
    const applyMs = Date.now() - t;
    // 3 ready workloads per service (v1, v2, v3).
    for (let i = 0; i < services; i++) {
      for (const v of ['v1', 'v2', 'v3']) {
        weftd.workloads.register({ name: `svc-${i}-${v}`, namespace: 'default', labels: { app: `svc-${i}`, version: v }, serviceAccount: 'default', ports: { http: 9080 }, ready: true });
      }
    }
    const acked = new Map<number, string>();
    const onAck = (m: { i: number; version: string }): void => { acked.set(m.i, m.version); };
    // One probe sidecar first, so the snapshot, translation and encodings (a fixed cost) are not
    // counted as per-sidecar memory.
    const probe = fork(SELF, ['--clients', weftd.xdsAddress, String(n), String(n + 1), protocol], { stdio: 'inherit' });
    probe.on('message', onAck);
    t = Date.now();
    while (!acked.has(n)) {
      if (Date.now() - t > 300_000) throw new Error('the probe sidecar did not sync');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    const rss0 = rssMB();
    const child = fork(SELF, ['--clients', weftd.xdsAddress, '0', String(n), protocol], { stdio: 'inherit' });
    child.on('message', onAck);
    t = Date.now();
    while (acked.size < n + 1) {
      if (Date.now() - t > 300_000) throw new Error(`only ${acked.size}/${n} sidecars synced`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const connectMs = Date.now() - t;
    log(`${n} sidecars (${protocol}) synced in ${connectMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
    const rssConnected = rssMB();
    const lat: number[] = [];
    const cpu0 = cpuS();
    for (let c = 0; c < changes; c++) {
      const before = new Map(acked);
      const start = performance.now();
      const done = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          let all = true;
          for (let i = 0; i < n; i++) if (acked.get(i) === before.get(i)) { all = false; break; }
          if (all) { clearInterval(check); resolve(); }
        }, 1);
      });
      await api.apply([virtualService('svc-0', 80 - c)], {});
      await done;
      lat.push(performance.now() - start);
    }
    const cpuPerPush = (cpuS() - cpu0) / changes;
    lat.sort((a, b) => a - b);
    rows.push({ sidecars: n, services, protocol, initialApplyMs: applyMs, allSyncedMs: connectMs, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99),
      cpuSecondsPerPush: cpuPerPush, mbPerSidecar: (rssConnected - rss0) / n, rssConnectedMB: rssConnected });
    child.send('stop');
    probe.send('stop');
    await weftd.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--clients') {
    runClients(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), (process.argv[6] ?? 'sotw') as Protocol);
    return;
  }
  const rows = await runControlPlaneBench({
    sidecars: (process.argv[2] ?? '100').split(',').map(Number), services: Number(process.argv[3] ?? 1000),
    changes: Number(process.argv[4] ?? 5), protocol: (process.argv[5] ?? 'sotw') as Protocol,
  });
  process.stdout.write(`\n${controlPlaneTable(rows)}\n`);
  process.exit(0);
}

if (process.argv[1] === SELF) await main();
