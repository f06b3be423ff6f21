// Control-plane benchmark through the whole path: `weft apply` (REST) -> store -> snapshot ->
// translation -> ADS push -> ACK from N simulated sidecars subscribed like Envoy (CDS/LDS wildcard,
// then EDS/RDS by name). Mesh: S services x 3 subsets, S VirtualServices, 3 workloads per service.
// Usage: node dist/bench/control-plane.js [N,N,...] [S] [changes] [sotw|delta|light|light-vhds] [client processes]    e.g. 100 1000 5 light 2
// The simulated sidecars run in child processes (2 by default), so weftd's CPU and RSS are its own. xDS is served
// in plaintext on loopback (weftd --insecure-xds): TLS costs are the data plane's story.
// `npm run bench` calls runControlPlaneBench().
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import v8, { writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADS_FLOW_CONTROL_WINDOW, createAdsClient } from '../src/xds/client.js';
import * as grpc from '@grpc/grpc-js';
import { TYPE, toStruct, unpackAny } from '../src/xds/protos.js';
import { ADS_DELTA_PATH, ADS_SOTW_PATH, decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest, VIRTUAL_HOST_URL,
  type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from '../src/xds/codec.js';
import { VHDS_METADATA } from '../src/weftd/proxies.js';
import { edsNames, rdsNames } from '../src/agent/agent.js';
import { startWeftd } from '../src/weftd/weftd.js';
import { ApiClient } from '../src/api/client.js';
import type { Resource, Workload } from '../src/model/index.js';

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

// Memory is read after a full GC, so it is what weftd holds, not garbage waiting for the collector.
v8.setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;
const rssMB = () => { fullGc(); return process.memoryUsage().rss / 1048576; };
const cpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

/**
 * sotw/delta: the full ADS client (decodes everything); light: SotW (as Envoy by default), ACKs
 * RDS/EDS undecoded; light-vhds: Delta with VHDS (as the Weft sidecar), ACKs RDS/EDS/VHDS undecoded.
 */
type Protocol = 'sotw' | 'delta' | 'light' | 'light-vhds';

type Sidecar = { close(): void };

/**
 * EDS (RDS) names a CDS (LDS) response asks for, decoded once per version for all the light
 * sidecars of this process: the same 4000-cluster CDS decoded by each would time this process.
 */
const namesByVersion = new Map<string, string[]>();
function namesOf(r: DiscoveryResponse, pick: (m: Map<string, Record<string, unknown>>) => string[]): string[] {
  const key = `${r.type_url}\n${r.version_info}`;
  let names = namesByVersion.get(key);
  if (!names) {
    names = pick(new Map(r.resources.map((a) => { const o = unpackAny(a); return [String(o.name), o]; })));
    namesByVersion.set(key, names);
  }
  return names;
}

/**
 * A light SotW sidecar: a real gRPC ADS stream subscribed like Envoy (CDS/LDS wildcard, then
 * EDS/RDS by the names they carry), but it decodes only CDS and LDS (to learn those names) and
 * ACKs RDS/EDS on receipt. Many of them share this one process, where decoding every response
 * with protobufjs would serialise N proxies' work on one core and time the clients, not weftd;
 * `decodeMs` in the result is what one proxy spends decoding the changed RDS.
 */
function lightSidecar(xds: string, id: string, name: string, address: string, onRouteAck: (version: string, decodeMs?: number) => void, timeDecode: boolean,
  onLost: (why: string) => void): Sidecar {
  // The ADS client's HTTP/2 window (Envoy's default is larger still), and its own connection.
  const client = new grpc.Client(xds, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc-node.flow_control_window': ADS_FLOW_CONTROL_WINDOW });
  const stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> = client.makeBidiStreamRequest(ADS_SOTW_PATH, encodeRequest, decodeResponse);
  const names = new Map<string, string[]>();
  const send = (type_url: string, version_info: string, response_nonce: string, node?: Record<string, unknown>): void => {
    stream.write({ type_url, version_info, response_nonce, resource_names: names.get(type_url) ?? [], ...(node ? { node } : {}) });
  };
  const resubscribe = (typeUrl: string, want: string[]): void => {
    const prev = names.get(typeUrl);
    if (prev && prev.join('\n') === want.join('\n')) return;
    names.set(typeUrl, want);
    send(typeUrl, '', prevNonce.get(typeUrl) ?? '');
  };
  const prevNonce = new Map<string, string>();
  stream.on('data', (r: DiscoveryResponse) => {
    prevNonce.set(r.type_url, r.nonce);
    send(r.type_url, r.version_info, r.nonce);
    if (r.type_url === TYPE.cluster) resubscribe(TYPE.endpoint, namesOf(r, edsNames));
    else if (r.type_url === TYPE.listener) resubscribe(TYPE.route, namesOf(r, rdsNames));
    else if (r.type_url === TYPE.route) {
      let decodeMs: number | undefined;
      if (timeDecode) { // after the ACK went out, so it does not delay it
        const t0 = performance.now();
        for (const a of r.resources) unpackAny(a);
        decodeMs = performance.now() - t0;
      }
      onRouteAck(r.version_info, decodeMs);
    }
  });
  // These clients do not reconnect (real sidecars do): a lost stream is reported with its status, so a
  // run that never finishes says why (e.g. weftd's keepalive dropping a slow reader).
  stream.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) onLost(`${grpc.status[e.code] ?? e.code}: ${e.details}`); });
  const node = { id, locality: {}, metadata: toStruct({ NAMESPACE: 'default', WORKLOAD_NAME: name, INSTANCE_IPS: address }) };
  send(TYPE.cluster, '', '', node);
  send(TYPE.listener, '', '');
  return { close: () => { stream.cancel(); client.close(); } };
}

/**
 * The light client of the Weft sidecar's protocol: a Delta ADS stream with VHDS (node metadata
 * WEFT_VHDS), subscribed as src/agent does (CDS/LDS wildcard; EDS and RDS by the names they
 * carry; VirtualHosts by the route config names). It decodes only CDS and LDS (once per version
 * per process, see namesOf) and ACKs everything once the whole response is received. The timed
 * change arrives as one VirtualHost: its ACK is what `onRouteAck` reports.
 */
function lightVhdsSidecar(xds: string, id: string, name: string, address: string, onRouteAck: (version: string, decodeMs?: number) => void, timeDecode: boolean,
  onLost: (why: string) => void): Sidecar {
  const client = new grpc.Client(xds, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc-node.flow_control_window': ADS_FLOW_CONTROL_WINDOW });
  const stream: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> = client.makeBidiStreamRequest(ADS_DELTA_PATH, encodeDeltaRequest, decodeDeltaResponse);
  const subscribed = new Map<string, string[]>();
  const send = (type_url: string, response_nonce: string, subscribe: string[] = [], unsubscribe: string[] = [], node?: Record<string, unknown>): void => {
    stream.write({ type_url, response_nonce, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe, initial_resource_versions: {}, ...(node ? { node } : {}) });
  };
  const resubscribe = (typeUrl: string, want: string[]): void => {
    const prev = subscribed.get(typeUrl) ?? [];
    const had = new Set(prev);
    const now = new Set(want);
    const add = want.filter((n) => !had.has(n));
    const drop = prev.filter((n) => !now.has(n));
    subscribed.set(typeUrl, want);
    if (add.length > 0 || drop.length > 0) send(typeUrl, '', add, drop);
  };
  stream.on('data', (r: DeltaDiscoveryResponse) => {
    send(r.type_url, r.nonce);
    // CDS/LDS changes are not timed here: the first response is the full state, whose names are decoded once per process.
    const full = { version_info: r.system_version_info, type_url: r.type_url, nonce: r.nonce, resources: r.resources.map((x) => x.resource) };
    if (r.type_url === TYPE.cluster) resubscribe(TYPE.endpoint, namesOf(full, edsNames));
    else if (r.type_url === TYPE.listener) {
      const names = namesOf(full, rdsNames);
      resubscribe(TYPE.route, names);
      resubscribe(VIRTUAL_HOST_URL, names);
    } else if (r.type_url === VIRTUAL_HOST_URL) {
      let decodeMs: number | undefined;
      if (timeDecode) {
        const t0 = performance.now();
        for (const x of r.resources) unpackAny(x.resource);
        decodeMs = performance.now() - t0;
      }
      onRouteAck(r.system_version_info, decodeMs);
    }
  });
  stream.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) onLost(`${grpc.status[e.code] ?? e.code}: ${e.details}`); });
  const node = { id, locality: {}, metadata: toStruct({ NAMESPACE: 'default', WORKLOAD_NAME: name, INSTANCE_IPS: address, [VHDS_METADATA]: 'true' }) };
  send(TYPE.cluster, '', ['*'], [], node);
  send(TYPE.listener, '', ['*']);
  return { close: () => { stream.cancel(); client.close(); } };
}

/** Counts of (type, sync status) over every connected proxy, from weftd's proxystatus route. */
async function syncSummary(apiUrl: string, token: string): Promise<string> {
  const res = await fetch(`${apiUrl}/apis/weft.dev/v1/proxystatus`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json() as { items: { types: { typeUrl: string; status: string }[] }[] };
  const counts = new Map<string, number>();
  for (const p of body.items) for (const ty of p.types) {
    const k = `${ty.typeUrl.split('.').pop()} ${ty.status}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return `${body.items.length} streams; ${[...counts].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`;
}

/** Child process: one sidecar per given workload; reports every RDS ACK to the parent. */
function runClients(xds: string, from: number, protocol: Protocol, nodes: readonly { name: string; address: string }[]): void {
  const clients: Sidecar[] = [];
  nodes.forEach(({ name, address }, k) => {
    const i = from + k;
    const id = `sidecar~${address}~${name}.default~default.svc.cluster.local`;
    if (protocol === 'light' || protocol === 'light-vhds') {
      clients.push((protocol === 'light' ? lightSidecar : lightVhdsSidecar)(xds, id, name, address, (version, decodeMs) => process.send?.({ i, version, decodeMs }), k === 0,
        (lost) => process.send?.({ i, lost })));
      return;
    }
    const c = createAdsClient({ address: xds, protocol, node: { id, metadata: { NAMESPACE: 'default', WORKLOAD_NAME: name, INSTANCE_IPS: address }, locality: {} } });
    c.subscribe(TYPE.cluster, '*', (u) => { c.subscribe(TYPE.endpoint, edsNames(u.resources), () => undefined); });
    c.subscribe(TYPE.listener, '*', (u) => { c.subscribe(TYPE.route, rdsNames(u.resources), () => undefined); });
    c.on('ack', (e) => { if (e.typeUrl === TYPE.route) process.send?.({ i, version: e.version }); });
    c.start();
    clients.push(c);
  });
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
  /** Processes the simulated sidecars are spread over (default 2). */
  clientProcesses?: number;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface ControlPlaneRow {
  sidecars: number; services: number; protocol: Protocol; initialApplyMs: number; allSyncedMs: number;
  p50Ms: number; p99Ms: number;
  /** From the store's commit of the change (weftd's part: snapshot, translation, push) to every ACK. */
  commitP50Ms: number; commitP99Ms: number;
  /** From `weft apply` to the store's commit: the config API's part (validation, analysis, journal write). */
  apiP50Ms: number; apiP99Ms: number;
  cpuSecondsPerPush: number; mbPerSidecar: number; rssConnectedMB: number;
  /** light clients: what one proxy spends decoding a changed RDS response with protobufjs (median). */
  rdsDecodeMs?: number;
}

const HEADER = '| sidecars | xDS | mesh | initial apply ms | all synced ms | apply -> all ACKed p50 ms | p99 ms | store commit -> all ACKed p50 ms | p99 ms | apply -> store commit p50 ms | p99 ms | weftd CPU s per push | weftd MB per sidecar |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|';

export function controlPlaneTable(rows: readonly ControlPlaneRow[]): string {
  return `${HEADER}\n${rows.map((r) => `| ${r.sidecars} | ${r.protocol} | ${r.services} x 3 subsets, ${r.services} VS | ${r.initialApplyMs} | ${r.allSyncedMs} | ` +
    `${r.p50Ms.toFixed(0)} | ${r.p99Ms.toFixed(0)} | ${r.commitP50Ms.toFixed(0)} | ${r.commitP99Ms.toFixed(0)} | ${r.apiP50Ms.toFixed(1)} | ${r.apiP99Ms.toFixed(1)} | ${r.cpuSecondsPerPush.toFixed(3)} | ${r.mbPerSidecar.toFixed(2)} |`).join('\n')}`;
}

/** One run per sidecar count: weftd in this process, the sidecars in a child process. */
export async function runControlPlaneBench(opts: ControlPlaneBenchOptions): Promise<ControlPlaneRow[]> {
  const { services, changes } = opts;
  const protocol = opts.protocol ?? 'sotw';
  const log = opts.log ?? ((l: string) => process.stderr.write(`control-plane bench: ${l}\n`));
  const rows: ControlPlaneRow[] = [];
  for (const n of opts.sidecars) {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-bench-cp-'));
    // 3 ready workloads per service (v1, v2, v3); sidecar i is one of them (its own inbound listener).
    // Written as weftd's workload registry file before it starts: registering 3000 workloads one
    // by one through the registry would time its per-registration fsync, not the control plane.
    const registered: { name: string; address: string }[] = [];
    const workloadList: Workload[] = [];
    let k = 1;
    for (const v of ['v1', 'v2', 'v3']) {
      for (let i = 0; i < services; i++) {
        do k++; while ((k & 255) === 0 || (k & 255) === 255); // as the registry allocates: no .0 or .255
        const w: Workload = { name: `svc-${i}-${v}`, namespace: 'default', address: `127.87.${k >> 8}.${k & 255}`,
          labels: { app: `svc-${i}`, version: v }, serviceAccount: 'default', ports: { http: 9080 }, ready: true };
        workloadList.push(w);
        registered.push({ name: w.name, address: w.address });
      }
    }
    writeFileSync(join(dataDir, 'workloads.json'), JSON.stringify(workloadList));
    const weftd = await startWeftd({ dataDir, apiPort: 0, xdsPort: 0, addressBase: '127.87', log: process.env.WEFT_BENCH_WEFTD_LOG ? (l: string) => process.stderr.write(`weftd: ${l}\n`) : () => {}, debounceMs: 10, insecureXds: true,
      workloadGraceMs: 3_600_000 }); // the bench's workloads have no sidecar of their own: never swept mid-run
    const api = new ApiClient(weftd.apiUrl, { token: weftd.adminToken });
    let t = Date.now();
    await api.apply(meshResources(services), {});
    const applyMs = Date.now() - t;
    if (n + 1 > registered.length) throw new Error(`${n} sidecars need at least ${Math.ceil((n + 1) / 3)} services`);
    const clients = (from: number, to: number): ChildProcess => fork(SELF, ['--clients', weftd.xdsAddress, String(from), protocol],
      { stdio: 'inherit', env: { ...process.env, WEFT_BENCH_NODES: JSON.stringify(registered.slice(from, to)) } });
    const acked = new Map<number, string>();
    const decodeMs: number[] = [];
    const onAck = (m: { i: number; version?: string; decodeMs?: number; lost?: string }): void => {
      if (m.lost) { log(`sidecar ${m.i} lost its ADS stream (${m.lost}); bench clients do not reconnect`); return; }
      if (m.version !== undefined) acked.set(m.i, m.version);
      if (m.decodeMs !== undefined) decodeMs.push(m.decodeMs);
    };
    // One probe sidecar first, so the snapshot, translation and encodings (a fixed cost) are not
    // counted as per-sidecar memory.
    const probe = clients(n, n + 1);
    probe.on('message', onAck);
    t = Date.now();
    while (!acked.has(n)) {
      if (Date.now() - t > 300_000) throw new Error('the probe sidecar did not sync');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    const rss0 = rssMB();
    if (process.env.WEFT_BENCH_WEFTD_LOG) log(`weftd memory with the probe sidecar: heap used ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB, external ${(process.memoryUsage().external / 1048576).toFixed(0)} MB`);
    // Spread over a few processes: a real proxy has its own CPU to receive and ACK with.
    const procs = Math.max(1, Math.min(opts.clientProcesses ?? 2, n));
    const children = Array.from({ length: procs }, (_, p) => clients(Math.floor((p * n) / procs), Math.floor(((p + 1) * n) / procs)));
    for (const child of children) child.on('message', onAck);
    t = Date.now();
    let nextReport = Date.now() + 10_000;
    while (acked.size < n + 1) {
      if (Date.now() - t > 300_000) throw new Error(`only ${acked.size}/${n} sidecars synced`);
      await new Promise((r) => setTimeout(r, 20));
      if (process.env.WEFT_BENCH_WEFTD_LOG && Date.now() > nextReport) {
        nextReport = Date.now() + 10_000;
        log(`${acked.size - 1}/${n} synced; weftd RSS ${rssMB().toFixed(0)} MB; xDS state: ${await syncSummary(weftd.apiUrl, weftd.adminToken)}`);
      }
    }
    const connectMs = Date.now() - t;
    log(`${n} sidecars (${protocol}) synced in ${connectMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
    const rssConnected = rssMB();
    if (process.env.WEFT_BENCH_WEFTD_LOG) {
      const m = process.memoryUsage();
      log(`weftd memory: rss ${rssConnected.toFixed(0)} MB (before the sidecars ${rss0.toFixed(0)}), heap used ${(m.heapUsed / 1048576).toFixed(0)} MB, external ${(m.external / 1048576).toFixed(0)} MB, array buffers ${(m.arrayBuffers / 1048576).toFixed(0)} MB`);
      if (process.env.WEFT_BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(process.env.WEFT_BENCH_HEAP_SNAPSHOT);
    }
    const lat: number[] = [];
    // When the store committed the change (its watch event): the rest is weftd's push path, the
    // time before it the config API's (validation, analysis of the whole config, journal write).
    const fromCommit: number[] = [];
    const toCommit: number[] = [];
    let commitAt = 0;
    const unwatch = weftd.store.watch(() => { commitAt ||= performance.now(); });
    // WEFT_BENCH_CPU_PROFILE=file.cpuprofile: a CPU profile of weftd during the timed changes only.
    const profile = process.env.WEFT_BENCH_CPU_PROFILE ? new Session() : undefined;
    if (profile) {
      profile.connect();
      await profile.post('Profiler.enable');
      await profile.post('Profiler.start');
    }
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
      commitAt = 0;
      await api.apply([virtualService('svc-0', 80 - c)], {});
      await done;
      const end = performance.now();
      lat.push(end - start);
      if (commitAt) { fromCommit.push(end - commitAt); toCommit.push(commitAt - start); }
      if (process.env.WEFT_BENCH_WEFTD_LOG) log(`change ${c + 1}: apply -> all ACKed ${(end - start).toFixed(1)} ms (apply -> commit ${commitAt ? (commitAt - start).toFixed(1) : '?'} ms)`);
    }
    const cpuPerPush = (cpuS() - cpu0) / changes;
    unwatch();
    fromCommit.sort((a, b) => a - b);
    toCommit.sort((a, b) => a - b);
    if (profile) {
      const { profile: prof } = await profile.post('Profiler.stop');
      writeFileSync(process.env.WEFT_BENCH_CPU_PROFILE!, JSON.stringify(prof));
      profile.disconnect();
    }
    lat.sort((a, b) => a - b);
    rows.push({ sidecars: n, services, protocol, initialApplyMs: applyMs, allSyncedMs: connectMs, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99),
      commitP50Ms: pct(fromCommit, 50), commitP99Ms: pct(fromCommit, 99), apiP50Ms: pct(toCommit, 50), apiP99Ms: pct(toCommit, 99),
      cpuSecondsPerPush: cpuPerPush, mbPerSidecar: (rssConnected - rss0) / n, rssConnectedMB: rssConnected,
      rdsDecodeMs: decodeMs.length ? [...decodeMs].sort((a, b) => a - b)[decodeMs.length >> 1] : undefined });
    for (const child of children) child.send('stop');
    probe.send('stop');
    await weftd.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--clients') {
    runClients(process.argv[3], Number(process.argv[4]), (process.argv[5] ?? 'sotw') as Protocol, JSON.parse(process.env.WEFT_BENCH_NODES ?? '[]') as { name: string; address: string }[]);
    return;
  }
  const rows = await runControlPlaneBench({
    sidecars: (process.argv[2] ?? '100').split(',').map(Number), services: Number(process.argv[3] ?? 1000),
    changes: Number(process.argv[4] ?? 5), protocol: (process.argv[5] ?? 'sotw') as Protocol,
    clientProcesses: process.argv[6] ? Number(process.argv[6]) : undefined,
  });
  process.stdout.write(`\n${controlPlaneTable(rows)}\n`);
  process.exit(0);
}

if (process.argv[1] === SELF) await main();

/**
 * `npm run bench` entry: a markdown table. Light clients speaking as the Weft sidecar does (Delta +
 * VHDS) and as Envoy does by default (SotW, whole route configs); quick: 100 sidecars; full: 100
 * and 1000, and 100 with full decoding.
 */
export default async function controlPlaneSuite(opts: { quick: boolean }): Promise<string> {
  const sidecars = opts.quick ? [100] : [100, 1000];
  const changes = opts.quick ? 5 : 10;
  const rows = await runControlPlaneBench({ sidecars, services: 1000, changes, protocol: 'light-vhds' });
  rows.push(...await runControlPlaneBench({ sidecars, services: 1000, changes, protocol: 'light' }));
  if (!opts.quick) rows.push(...await runControlPlaneBench({ sidecars: [100], services: 1000, changes: 5, protocol: 'sotw' }));
  return controlPlaneTable(rows);
}
