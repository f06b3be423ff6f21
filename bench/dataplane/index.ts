// The data-plane benchmark: every topology in one run against the same nginx upstream. All
// topologies are started first and then measured in interleaved rounds, so that the noise of a
// shared machine (which drifts over minutes) falls on all of them alike; medians over rounds are reported.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { curlOnce } from '../../src/load/index.js';
import { runWrk, runPaced, withResourceUse, type PacedResult, type ProxyPids, type Target, type WrkResult } from './measure.js';
import { machineInfo, memMb, processTree, readCpuSteal, type MemMb } from './proc.js';
import { defaultPinning, ensureTools, pinSelf, stopProcess, type Pinning } from './processes.js';
import { BODY_BYTES, startReferenceProxy, startUpstream, type ReferenceKind, type RunningProxy } from './references.js';
import { fullReport, type DataplaneRun, type ProxyMeasure, type TopologyResult } from './report.js';
import { startWeftPair } from './weft-pair.js';

export interface DataplaneOptions {
  quick?: boolean;
  /** Seconds per saturation load (default 5 with quick, else 8); the paced load runs twice as long unless quick. */
  seconds?: number;
  /** Interleaved rounds (default 1 with quick, else 3). */
  rounds?: number;
  /** Topology keys to run (default all): direct, weft, nginx, haproxy, http-proxy, fastify. */
  only?: string[];
  log?: (line: string) => void;
}

export const TOPOLOGIES: { key: string; label: string }[] = [
  { key: 'direct', label: 'direct (no proxy)' },
  { key: 'weft', label: 'Weft sidecar pair' },
  { key: 'weft-mtls', label: 'Weft sidecar pair, mTLS' },
  { key: 'nginx', label: 'nginx pair' },
  { key: 'haproxy', label: 'HAProxy pair' },
  { key: 'http-proxy', label: 'node-http-proxy pair' },
  { key: 'fastify', label: '@fastify/http-proxy pair (undici)' },
];

interface Setup { target: Target; proxies: Record<string, { pid: number; readyMs: number }>; stop(): Promise<void> }

class SkipError extends Error {}

async function startReferencePair(kind: ReferenceKind, dir: string, upstreamPort: number, pin: Pinning): Promise<Setup> {
  const server = await startReferenceProxy(kind, dir, `${kind}-server`, upstreamPort, pin.proxyCore);
  let client: RunningProxy;
  try {
    client = await startReferenceProxy(kind, dir, `${kind}-client`, server.port, pin.proxyCore);
  } catch (e) {
    await stopProcess(server);
    throw e;
  }
  return {
    target: { url: `http://127.0.0.1:${client.port}/` },
    proxies: { client: { pid: client.pid, readyMs: client.readyMs }, server: { pid: server.pid, readyMs: server.readyMs } },
    async stop() { await Promise.all([stopProcess(client), stopProcess(server)]); },
  };
}

async function setupTopology(key: string, dir: string, upstreamPort: number, pin: Pinning): Promise<Setup> {
  switch (key) {
    case 'direct':
      return { target: { url: `http://127.0.0.1:${upstreamPort}/` }, proxies: {}, async stop() {} };
    case 'weft':
    case 'weft-mtls': {
      let pair;
      try {
        pair = await startWeftPair(upstreamPort, pin.proxyCore, key === 'weft-mtls');
      } catch (e) {
        throw new SkipError(`weft sidecar not ready: ${(e as Error).message}`);
      }
      return {
        target: { url: pair.url, host: pair.host },
        proxies: { client: { pid: pair.client.pid, readyMs: pair.client.readyMs }, server: { pid: pair.server.pid, readyMs: pair.server.readyMs } },
        stop: () => pair.stop(),
      };
    }
    case 'nginx':
    case 'haproxy':
    case 'http-proxy':
    case 'fastify':
      return startReferencePair(key, dir, upstreamPort, pin);
    default:
      throw new Error(`unknown topology ${key}`);
  }
}

/** Every topology must return the upstream's exact body, or its numbers mean nothing. */
async function checkBody(target: Target): Promise<void> {
  const r = await curlOnce({ url: target.url, headers: target.host ? [['Host', target.host]] : [], timeoutMs: 3000 });
  if (r.status !== 200 || r.body.length !== BODY_BYTES) throw new Error(`expected 200 with ${BODY_BYTES} bytes, got ${r.status} with ${r.body.length} bytes`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The round with the median requests/s stands for the topology; all rounds stay in `rounds`. */
function medianWrk(rs: WrkResult[]): WrkResult {
  const m = median(rs.map((r) => r.rps));
  return rs.reduce((best, r) => (Math.abs(r.rps - m) < Math.abs(best.rps - m) ? r : best));
}

function medianPaced(rs: PacedResult[]): PacedResult {
  const pick = (k: 'p50' | 'p90' | 'p99' | 'max'): number => median(rs.map((r) => r.latencyMs[k]));
  return {
    calls: rs.reduce((a, r) => a + r.calls, 0), errors: rs.reduce((a, r) => a + r.errors, 0), actualQps: median(rs.map((r) => r.actualQps)),
    latencyMs: { p50: pick('p50'), p90: pick('p90'), p99: pick('p99'), max: pick('max') },
  };
}

interface Live {
  key: string;
  label: string;
  setup: Setup;
  pids: ProxyPids;
  memIdle: Record<string, MemMb>;
  c16: WrkResult[];
  c64: WrkResult[];
  paced: PacedResult[];
  cpuSat: Record<string, number>;
  cpuPaced: Record<string, number>;
  memLoad: Record<string, MemMb>;
  failed?: string;
}

async function measureRound(t: Live, pin: Pinning, secs: { sat: number; paced: number; warm: number }, log: (l: string) => void): Promise<void> {
  const add = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  // Each of RSS, PSS and anonymous keeps its own peak over every load of every round.
  const addPeak = (into: Record<string, MemMb>, from: Record<string, MemMb>): void => {
    for (const [k, m] of Object.entries(from)) {
      const p = into[k] ?? { rss: 0, pss: 0, anon: 0 };
      into[k] = { rss: Math.max(p.rss, m.rss), pss: Math.max(p.pss, m.pss), anon: Math.max(p.anon, m.anon) };
    }
  };
  // Each saturation load right after an unmeasured one at the same connection count, for every
  // topology alike: the connections a client proxy pools to the next hop close after a few idle
  // seconds (Weft's upstream default is 4 s), and the other topologies' loads run in between, so
  // without it every window would start by opening them (for mTLS: handshakes, measured on their
  // own by bench:protocols --handshakes-only) instead of measuring keep-alive traffic.
  const saturate = async (conns: number) => {
    await runWrk(t.setup.target, conns, secs.warm, pin.loadCore);
    return withResourceUse(t.pids, () => runWrk(t.setup.target, conns, secs.sat, pin.loadCore));
  };
  const c16 = await saturate(16);
  const c64 = await saturate(64);
  t.c16.push(c16.result);
  t.c64.push(c64.result);
  add(t.cpuSat, c64.use.cpuSeconds);
  addPeak(t.memLoad, c16.use.memPeakMb);
  addPeak(t.memLoad, c64.use.memPeakMb);
  for (const [role, cpu] of Object.entries(c64.use.cpuSeconds)) {
    if (cpu < 0.05) log(`${t.label}: warning: the ${role} proxy used only ${cpu.toFixed(2)} CPU s at saturation; is traffic going through it?`);
  }
  const paced = await withResourceUse(t.pids, () => runPaced(t.setup.target, 1000, 16, secs.paced));
  t.paced.push(paced.result);
  add(t.cpuPaced, paced.use.cpuSeconds);
  addPeak(t.memLoad, paced.use.memPeakMb);
  log(`${t.label}: ${Math.round(c16.result.rps)} / ${Math.round(c64.result.rps)} rps at 16 / 64 connections; ` +
    `p50 ${paced.result.latencyMs.p50.toFixed(3)} / p99 ${paced.result.latencyMs.p99.toFixed(3)} ms at 1000 rps`);
}

function result(t: Live, direct: Live | undefined): TopologyResult {
  if (t.failed || t.c16.length === 0) return { key: t.key, label: t.label, skipped: t.failed ?? 'not measured', proxies: {} };
  const proxies: Record<string, ProxyMeasure> = {};
  const pacedCalls = t.paced.reduce((a, r) => a + r.calls, 0);
  const satRequests = t.c64.reduce((a, r) => a + r.requests, 0);
  for (const [role, p] of Object.entries(t.setup.proxies)) {
    proxies[role] = {
      readyMs: p.readyMs,
      rssIdleMb: t.memIdle[role].rss,
      rssLoadMb: t.memLoad[role].rss,
      pssLoadMb: t.memLoad[role].pss,
      anonLoadMb: t.memLoad[role].anon,
      cpuPer1000Paced: t.cpuPaced[role] / (pacedCalls / 1000),
      cpuUsPerReqSaturated: (t.cpuSat[role] * 1e6) / Math.max(1, satRequests),
    };
  }
  // Added latency per round against the direct run of the same round, then the median over rounds.
  let added: TopologyResult['addedLatencyMs'];
  if (direct && t !== direct && direct.paced.length === t.paced.length && t.paced.length > 0) {
    const d = (k: 'p50' | 'p90' | 'p99'): number => median(t.paced.map((r, i) => r.latencyMs[k] - direct.paced[i].latencyMs[k]));
    added = { p50: d('p50'), p90: d('p90'), p99: d('p99') };
  }
  return {
    key: t.key, label: t.label, c16: medianWrk(t.c16), c64: medianWrk(t.c64), paced: medianPaced(t.paced), addedLatencyMs: added, proxies,
    rounds: { c16: t.c16.map((r) => r.rps), c64: t.c64.map((r) => r.rps), pacedP50: t.paced.map((r) => r.latencyMs.p50), pacedP99: t.paced.map((r) => r.latencyMs.p99) },
  };
}

export async function runDataplane(opts: DataplaneOptions = {}): Promise<{ run: DataplaneRun; report: string }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`bench dataplane: ${l}\n`));
  ensureTools(log);
  const quick = opts.quick ?? false;
  const sat = opts.seconds ?? (quick ? 5 : 8);
  const secs = { sat, paced: quick ? sat : 2 * sat, warm: quick ? 1 : 3 };
  const rounds = opts.rounds ?? (quick ? 1 : 3);
  const startedAt = new Date().toISOString();
  const machine = machineInfo(); // before pinning, which narrows what this process sees
  const pin = defaultPinning();
  pinSelf(pin.loadCore);
  const steal0 = readCpuSteal();
  const dir = mkdtempSync(join(os.tmpdir(), 'weft-bench-'));
  const live: Live[] = [];
  const skipped: TopologyResult[] = [];
  const upstream = await startUpstream(dir, pin.loadCore);
  try {
    // Started one after another, so each start-to-ready time is measured on an otherwise idle setup.
    for (const def of TOPOLOGIES) {
      if (opts.only && !opts.only.includes(def.key)) continue;
      try {
        const setup = await setupTopology(def.key, dir, upstream.port, pin);
        const pids: ProxyPids = Object.fromEntries(Object.entries(setup.proxies).map(([r, p]) => [r, p.pid]));
        live.push({ key: def.key, label: def.label, setup, pids, memIdle: {}, c16: [], c64: [], paced: [], cpuSat: {}, cpuPaced: {}, memLoad: {} });
        await checkBody(setup.target).catch((e: Error) => { live[live.length - 1].failed = `wrong response: ${e.message}`; });
      } catch (e) {
        const reason = (e as Error).message.replace(/\s+/g, ' ').slice(0, 400);
        log(`${def.label}: skipped: ${reason}`);
        skipped.push({ key: def.key, label: def.label, skipped: reason, proxies: {} });
      }
    }
    for (const t of live) {
      t.memIdle = Object.fromEntries(Object.entries(t.pids).map(([r, pid]) => [r, memMb(processTree(pid))]));
      if (!t.failed) await runWrk(t.setup.target, 16, secs.warm, pin.loadCore).catch((e: Error) => { t.failed = `warm-up failed: ${e.message}`; });
    }
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) log(`round ${round} of ${rounds}`);
      for (const t of live) {
        if (t.failed) continue;
        await measureRound(t, pin, secs, log).catch((e: Error) => {
          t.failed = `failed during load: ${e.message.replace(/\s+/g, ' ').slice(0, 300)}`;
          log(`${t.label}: ${t.failed}`);
        });
      }
    }
  } finally {
    await Promise.all(live.map((t) => t.setup.stop()));
    await stopProcess(upstream);
    rmSync(dir, { recursive: true, force: true });
  }
  const steal1 = readCpuSteal();
  const direct = live.find((t) => t.key === 'direct' && !t.failed);
  const order = (k: string): number => TOPOLOGIES.findIndex((t) => t.key === k);
  const run: DataplaneRun = {
    startedAt,
    quick,
    conditions: {
      rounds, saturationSeconds: secs.sat, pacedSeconds: secs.paced, warmupSeconds: secs.warm, pacedQps: 1000, pacedConnections: 16, bodyBytes: BODY_BYTES,
      pinning: pin.proxyCore === undefined ? 'none (fewer than 2 cores or no taskset)' : `proxies on core ${pin.proxyCore}; wrk, weft load, weftd and the upstream on core ${pin.loadCore}`,
    },
    machine,
    loadAvgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
    stealPercent: steal1.total > steal0.total ? (100 * (steal1.steal - steal0.steal)) / (steal1.total - steal0.total) : 0,
    topologies: [...live.map((t) => result(t, direct)), ...skipped].sort((a, b) => order(a.key) - order(b.key)),
  };
  return { run, report: fullReport(run) };
}
