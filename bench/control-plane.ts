// Control-plane benchmark through the whole path: `weft apply` (REST) -> store -> snapshot ->
// translation -> ADS push -> ACK from N simulated sidecars subscribed like Envoy (CDS/LDS wildcard,
// then EDS/RDS by name). Mesh: S services x 3 subsets, S VirtualServices, 3 workloads per service.
// Usage: node dist/bench/control-plane.js [N,N,...] [S] [changes]     e.g. 100 1000 5
// The simulated sidecars run in a child process, so weftd's CPU and RSS are its own.
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

/** Child process: N sidecars subscribed like Envoy; reports every RDS ACK to the parent. */
function runClients(xds: string, from: number, to: number): void {
  const clients: AdsClient[] = [];
  for (let i = from; i < to; i++) {
    const id = `sidecar~127.88.${i >> 8}.${(i & 255) + 1}~bench-${i}.default~default.svc.cluster.local`;
    const c = createAdsClient({ address: xds, node: { id, metadata: { NAMESPACE: 'default', WORKLOAD_NAME: `bench-${i}` }, locality: {} } });
    c.subscribe(TYPE.cluster, '*', (u) => { c.subscribe(TYPE.endpoint, edsNames(u.resources), () => undefined); });
    c.subscribe(TYPE.listener, '*', (u) => { c.subscribe(TYPE.route, rdsNames(u.resources), () => undefined); });
    c.on('ack', (e) => { if (e.typeUrl === TYPE.route) process.send?.({ i, version: e.version }); });
    c.start();
    clients.push(c);
  }
  process.on('message', (m) => { if (m === 'stop') { for (const c of clients) c.close(); process.exit(0); } });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--clients') {
    runClients(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
    return;
  }
  const ns = (process.argv[2] ?? '100').split(',').map(Number);
  const services = Number(process.argv[3] ?? 1000);
  const changes = Number(process.argv[4] ?? 5);
  const rows: string[] = [];
  for (const n of ns) {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-bench-cp-'));
    const weftd = await startWeftd({ dataDir, apiPort: 0, xdsPort: 0, addressBase: '127.87', log: () => {}, debounceMs: 10 });
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
    const rss0 = rssMB();
    const acked = new Map<number, string>();
    const child = fork(SELF, ['--clients', weftd.xdsAddress, '0', String(n)], { stdio: 'inherit' });
    child.on('message', (m: { i: number; version: string }) => acked.set(m.i, m.version));
    t = Date.now();
    while (acked.size < n) {
      if (Date.now() - t > 300_000) throw new Error(`only ${acked.size}/${n} sidecars synced`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const connectMs = Date.now() - t;
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
    rows.push(`| ${n} | ${services} x 3 subsets, ${services} VS | ${applyMs} | ${connectMs} | ${pct(lat, 50).toFixed(0)} | ${pct(lat, 99).toFixed(0)} | ${cpuPerPush.toFixed(3)} | ${((rssConnected - rss0) / n).toFixed(2)} |`);
    child.send('stop');
    await weftd.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`\n| sidecars | mesh | initial apply ms | all synced ms | apply -> all ACKed p50 ms | p99 ms | weftd CPU s per push | weftd MB per sidecar |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
  process.exit(0);
}

await main();
