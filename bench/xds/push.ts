// Push benchmark: N simulated ADS clients (our client library, one connection each) subscribe to
// R synthetic clusters and R listeners (wildcard, full state). One cluster changes, notify() is
// called, and we time until every client has ACKed the new CDS version.
// Usage: node dist/bench/xds/push.js [N,N,...] [R] [rounds] [sotw|delta|both]   e.g. 100,1000 1000 5 both
// The clients run in two child processes, so CPU and RSS are the server's own; the machine's
// cores are still shared with the clients (which decode every full-state push), so latencies
// are upper bounds.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createXdsServer, type AckEvent } from '../../src/xds/server.js';
import * as grpc from '@grpc/grpc-js';
import { createAdsClient } from '../../src/xds/client.js';
import { ADS_DELTA_PATH, decodeDeltaResponse, encodeDeltaRequest, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '../../src/xds/codec.js';
import { unpackAny } from '../../src/xds/protos.js';
import { TYPE } from '../../src/xds/protos.js';
import type { NodeInfo, ResourceSource } from '../../src/xds/types.js';

const SELF = fileURLToPath(import.meta.url);
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function cluster(i: number, gen: number): object {
  return { name: `outbound|8080||svc-${i}.ns.svc.cluster.local`, type: 'EDS', lb_policy: 'ROUND_ROBIN',
    connect_timeout: { seconds: 10 + gen, nanos: 0 }, eds_cluster_config: { eds_config: { ads: {} }, service_name: `outbound|8080||svc-${i}.ns.svc.cluster.local` } };
}

function listener(i: number): object {
  return { name: `svc-${i}.ns.svc.cluster.local:8080`, api_listener: { api_listener: { '@type': HCM, stat_prefix: `l${i}`,
    rds: { route_config_name: `r${i}`, config_source: { ads: {} } }, http_filters: [{ name: 'router', typed_config: { '@type': ROUTER } }] } } };
}

class SyntheticSource implements ResourceSource {
  clusters = new Map<string, object>();
  readonly listeners = new Map<string, object>();
  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const c = cluster(i, 0);
      this.clusters.set((c as { name: string }).name, c);
      const l = listener(i);
      this.listeners.set((l as { name: string }).name, l);
    }
  }
  resources(_node: NodeInfo, typeUrl: string): ReadonlyMap<string, object> {
    return typeUrl === TYPE.cluster ? this.clusters : typeUrl === TYPE.listener ? this.listeners : new Map();
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function waitFor(what: string, f: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export type Mode = 'sotw' | 'delta';
export interface Row { mode: Mode; n: number; resources: number; connectS: number; p50: number; p99: number; all: number; cpuS: number; rssPerStreamKB: number }

async function runOne(mode: Mode, n: number, count: number, rounds: number): Promise<Row> {
  const source = new SyntheticSource(count);
  let warnings = 0;
  const warn = (m: string): void => {
    if (++warnings <= 5) console.error(m);
  };
  const server = createXdsServer(source, { debounceMs: 10, logger: { info() {}, warn, error: warn } });
  const { port } = await server.listen('127.0.0.1:0');
  const lastAck = new Map<string, AckEvent & { at: number }>();
  server.on('ack', (a) => {
    if (a.typeUrl === TYPE.cluster) lastAck.set(a.nodeId, { ...a, at: performance.now() });
  });
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const children: ChildProcess[] = [];
  const procs = Math.min(2, n);
  for (let p = 0; p < procs; p++) {
    const from = Math.floor((p * n) / procs);
    const to = Math.floor(((p + 1) * n) / procs);
    children.push(fork(SELF, ['--clients', mode, String(port), String(from), String(to)], { stdio: 'inherit', execArgv: [] }));
  }
  let lastReport = Date.now();
  await waitFor('initial sync', () => {
    const st = server.status();
    const synced = st.filter((p) => p.types.length === 2 && p.types.every((t) => t.status === 'SYNCED')).length;
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      const counts: Record<string, number> = {};
      for (const p of st) for (const t of p.types) counts[t.status] = (counts[t.status] ?? 0) + 1;
      console.error(`${mode} N=${n}: ${st.length} streams, ${synced} synced, type states ${JSON.stringify(counts)}`);
    }
    return st.length === n && synced === n;
  }, 600_000);
  const connectS = (performance.now() - t0) / 1000;
  global.gc?.();
  const rssPerStreamKB = (process.memoryUsage().rss - rss0) / n / 1024;

  const lat: number[] = [];
  let all = 0;
  const cpu0 = process.cpuUsage();
  for (let r = 1; r <= rounds; r++) {
    const c = cluster(r % count, r);
    // A change is a new Map (the ResourceSource contract); unchanged clusters keep their objects.
    source.clusters = new Map(source.clusters).set((c as { name: string }).name, c);
    const before = new Map([...lastAck].map(([k, v]) => [k, v.version]));
    const start = performance.now();
    server.notify();
    await waitFor(`round ${r}`, () => [...lastAck].every(([k, v]) => v.version !== before.get(k)), 600_000);
    for (const v of lastAck.values()) lat.push(v.at - start);
    all += Math.max(...[...lastAck.values()].map((v) => v.at - start));
  }
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  for (const c of children) c.kill();
  await server.close();
  return { mode, n, resources: count, connectS, p50: pct(lat, 50), p99: pct(lat, 99), all: all / rounds,
    cpuS: (cpu.user + cpu.system) / 1e6 / rounds, rssPerStreamKB };
}

/** A bare Delta client: wildcard CDS+LDS, decodes what arrives (as a proxy would) and ACKs. */
function deltaClient(port: number, id: string): { close(): void } {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const stream: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> =
    client.makeBidiStreamRequest(ADS_DELTA_PATH, encodeDeltaRequest, decodeDeltaResponse);
  const req = (type_url: string, nonce: string): DeltaDiscoveryRequest =>
    ({ type_url, response_nonce: nonce, resource_names_subscribe: [], resource_names_unsubscribe: [], initial_resource_versions: {} });
  stream.on('data', (r: DeltaDiscoveryResponse) => {
    for (const x of r.resources) unpackAny(x.resource);
    stream.write(req(r.type_url, r.nonce));
  });
  stream.on('error', () => {});
  stream.write({ ...req(TYPE.cluster, ''), node: { id, locality: {} } });
  stream.write(req(TYPE.listener, ''));
  return { close: () => client.close() };
}

/** Child mode: run clients proxy-FROM..proxy-TO against the server until killed. */
function runClients(mode: Mode, port: number, from: number, to: number): void {
  const clients: { close(): void }[] = [];
  for (let i = from; i < to; i++) {
    if (mode === 'delta') {
      clients.push(deltaClient(port, `proxy-${i}`));
      continue;
    }
    const c = createAdsClient({ address: `127.0.0.1:${port}`, node: { id: `proxy-${i}`, metadata: {} } });
    c.subscribe(TYPE.cluster, '*', () => undefined);
    c.subscribe(TYPE.listener, '*', () => undefined);
    c.start();
    clients.push(c);
  }
  const stop = (): void => {
    for (const c of clients) c.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop); // never outlive the benchmark
}

/** Runs each mode at each N; returns the rows (also what `npm run bench` records). */
export async function runXdsPushBench(opts: { sidecars: number[]; resources: number; rounds: number; modes?: Mode[] }): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of opts.sidecars) {
    for (const mode of opts.modes ?? ['sotw', 'delta']) {
      rows.push(await runOne(mode, n, opts.resources, opts.rounds));
      console.error(`done ${mode} N=${n}`);
    }
  }
  return rows;
}

export function xdsPushTable(rows: readonly Row[]): string {
  const head = '| mode | proxies | resources | initial sync s | ACK p50 ms | ACK p99 ms | all ACKed ms | server CPU s per push | server RSS per stream KB |\n|---|---|---|---|---|---|---|---|---|';
  return `${head}\n${rows.map((r) => `| ${r.mode} | ${r.n} | ${r.resources} clusters + ${r.resources} listeners | ${r.connectS.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ` +
    `${r.all.toFixed(0)} | ${r.cpuS.toFixed(2)} | ${r.rssPerStreamKB.toFixed(0)} |`).join('\n')}`;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--clients') {
    runClients(process.argv[3] as Mode, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
    return;
  }
  const count = Number(process.argv[3] ?? 1000);
  const rounds = Number(process.argv[4] ?? 5);
  const modeArg = process.argv[5] ?? 'both';
  const rows = await runXdsPushBench({ sidecars: (process.argv[2] ?? '100').split(',').map(Number), resources: count, rounds,
    modes: modeArg === 'both' ? ['sotw', 'delta'] : [modeArg as Mode] });
  console.log(`xDS push: one cluster changes among ${count} clusters + ${count} listeners (wildcard; SotW CDS is full state); ${rounds} rounds`);
  console.log(xdsPushTable(rows));
}

if (process.argv[1] === SELF) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}

/** `npm run bench` entry: a markdown table. */
export default async function xdsPushSuite(opts: { quick: boolean }): Promise<string> {
  return xdsPushTable(await runXdsPushBench({ sidecars: [100], resources: 1000, rounds: opts.quick ? 3 : 5 }));
}
