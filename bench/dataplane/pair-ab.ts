// Interleaved A/B of Weft sidecar pairs built from different trees (and the raw TCP forwarder pair,
// the floor of a Node.js proxy) against one nginx upstream, pinned as in the bench. Per round: direct,
// then per variant Istio's latency load (1000 rps, 16 connections, uniform pacing; added latency against
// that round's direct run) and wrk -c64, with each sidecar's CPU per request. Use an even number of
// rounds per variant count, so each variant is measured in each position as often.
//   node dist/bench/dataplane/pair-ab.js ROUNDS SECONDS VARIANT...
// VARIANT: a tree with bin/ and dist/ (e.g. a copy of main's), optionally `@--v8-flag,...` for the
// sidecars' node, or `raw`. Environment: PAIR_AB_RATES=250,1000,4000 measures CPU per request at
// those paced rates instead; PAIR_AB_SAT=0 skips saturation.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { curlOnce } from '../../src/load/index.js';
import type { startWeftd as StartWeftd } from '../../src/weftd/weftd.js';
import { runPaced, runWrk, withResourceUse, type ProxyPids, type ResourceUse, type Target } from './measure.js';
import { defaultPinning, pinSelf, pollUntil, startListening, startProcess, stopAll, stopProcess, type Started } from './processes.js';
import { startUpstream } from './references.js';

interface Pair { spec: string; target: Target; pids: ProxyPids; stop(): Promise<void> }

const RAW = fileURLToPath(new URL('./raw-forwarder.js', import.meta.url));
const [rounds, seconds, ...variants] = process.argv.slice(2);
if (!(Number(rounds) > 0) || !(Number(seconds) > 0) || variants.length === 0) {
  process.stderr.write('usage: node dist/bench/dataplane/pair-ab.js ROUNDS SECONDS (TREE[@--flag,...] | raw)...\n');
  process.exit(2);
}
const S = Number(seconds);
const pin = defaultPinning();
pinSelf(pin.loadCore);
const dir = mkdtempSync(join(os.tmpdir(), 'pair-ab-'));
const upstream = await startUpstream(dir, pin.loadCore);
let addressBase = 90;
let rawPort = 41000 + Math.floor(Math.random() * 1000) * 2;

async function ready(address: string): Promise<boolean> {
  const r = await fetch(`http://${address}:15000/ready`, { signal: AbortSignal.timeout(500) });
  await r.arrayBuffer();
  return r.status === 200;
}

async function startPair(spec: string): Promise<Pair> {
  if (spec === 'raw') {
    const sp = (rawPort += 2);
    const server = await startListening('raw-server', process.execPath, [RAW, String(sp), String(upstream.port)], pin.proxyCore, '127.0.0.1', sp);
    const client = await startListening('raw-client', process.execPath, [RAW, String(sp + 1), String(sp)], pin.proxyCore, '127.0.0.1', sp + 1);
    return { spec, target: { url: `http://127.0.0.1:${sp + 1}/` }, pids: { client: client.pid, server: server.pid }, stop: async () => { await stopProcess(client); await stopProcess(server); } };
  }
  const [root, flags] = spec.split('@');
  const nodeArgs = flags ? flags.split(',') : [];
  const { startWeftd } = (await import(pathToFileURL(join(root, 'dist/src/weftd/weftd.js')).href)) as { startWeftd: typeof StartWeftd };
  const weftd = await startWeftd({ apiPort: 0, xdsPort: 0, addressBase: `127.${addressBase++}`, insecureXds: true, log: () => {} });
  const started: Started[] = [];
  const sidecar = async (name: string, address: string): Promise<void> => {
    const t0 = performance.now();
    const s = startProcess(name, process.execPath, [...nodeArgs, join(root, 'bin/weft.js'), 'proxy', '--xds', weftd.xdsAddress, '--address', address, '--name', name, '--namespace', 'default', '--insecure-xds'], pin.proxyCore);
    started.push(s);
    await pollUntil(`${spec} ${name} ready`, () => ready(address), t0, 15_000, s);
  };
  await weftd.store.apply([{ op: 'put', resource: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-upstream', namespace: 'default' }, spec: { selector: { app: 'bench-upstream' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } } }]);
  const sw = weftd.workloads.register({ name: 'bench-upstream-0', namespace: 'default', labels: { app: 'bench-upstream' }, serviceAccount: 'default', ports: { http: 8080 }, appPort: upstream.port, ready: false });
  const cw = weftd.workloads.register({ name: 'bench-client', namespace: 'default', labels: { app: 'bench-client' }, serviceAccount: 'default', ports: {}, ready: true });
  await sidecar(sw.name, sw.address);
  weftd.workloads.setReady('default', sw.name, true);
  await sidecar(cw.name, cw.address);
  const target = { url: `http://${cw.address}:15001/`, host: 'bench-upstream:8080' };
  await pollUntil(`${spec} request through the pair`, async () => {
    const r = await curlOnce({ url: target.url, headers: [['Host', target.host]], timeoutMs: 1000 });
    return r.status === 200 && r.body.length === 1024;
  }, performance.now(), 10_000, undefined, 50);
  return { spec, target, pids: { client: started[1].pid, server: started[0].pid }, stop: async () => { await Promise.all(started.map((s) => stopProcess(s))); await weftd.close(); } };
}

const perReq = (u: ResourceUse, n: number): string => Object.values(u.cpuSeconds).map((c) => ((c * 1e6) / Math.max(1, n)).toFixed(0)).join('/');
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const pairs: Pair[] = [];
try {
  for (const v of variants) pairs.push(await startPair(v));
  for (const p of pairs) await runWrk(p.target, 16, 1, pin.loadCore);
  console.log(`start ${new Date().toISOString()} load ${load()} (CPU us per request: client/server sidecar)`);
  const rates = process.env.PAIR_AB_RATES?.split(',').map(Number);
  for (let r = 0; r < Number(rounds); r++) {
    if (rates) {
      for (const rate of rates) for (const p of pairs) {
        const pc = await withResourceUse(p.pids, () => runPaced(p.target, rate, 16, S));
        console.log(`r${r} ${String(rate).padStart(5)} rps ${p.spec.padEnd(28)} p50 ${pc.result.latencyMs.p50.toFixed(3)} ms, CPU ${perReq(pc.use, pc.result.calls)} us/req`);
      }
      continue;
    }
    const d = await runPaced({ url: `http://127.0.0.1:${upstream.port}/` }, 1000, 16, S);
    console.log(`r${r} ${'direct'.padEnd(28)} p50 ${d.latencyMs.p50.toFixed(3)} p90 ${d.latencyMs.p90.toFixed(3)} p99 ${d.latencyMs.p99.toFixed(3)} ms`);
    // The order rotates every round: the pair measured first in a round measured ~10% cheaper in
    // every run on this shared machine, whichever tree it was.
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[(i + r) % pairs.length];
      const pc = await withResourceUse(p.pids, () => runPaced(p.target, 1000, 16, S));
      const l = pc.result.latencyMs;
      let sat = '';
      if (process.env.PAIR_AB_SAT !== '0') {
        const w = await withResourceUse(p.pids, () => runWrk(p.target, 64, S, pin.loadCore));
        sat = ` | wrk -c64 ${w.result.rps.toFixed(0)} rps, CPU ${perReq(w.use, w.result.requests)} us/req`;
      }
      console.log(`r${r} ${p.spec.padEnd(28)} added p50 ${(l.p50 - d.latencyMs.p50).toFixed(3)} p90 ${(l.p90 - d.latencyMs.p90).toFixed(3)} p99 ${(l.p99 - d.latencyMs.p99).toFixed(3)} ms, CPU ${perReq(pc.use, pc.result.calls)} us/req, errors ${pc.result.errors}${sat}`);
    }
  }
  console.log(`end ${new Date().toISOString()} load ${load()}`);
} finally {
  for (const p of pairs) await p.stop();
  await stopProcess(upstream);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
