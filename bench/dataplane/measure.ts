// The three loads: wrk saturation (requests/s), Istio's latency condition (1000 rps, 16 connections,
// uniform pacing, latency from the intended send time, via Weft's own load generator), and the CPU
// and memory the proxies used meanwhile.
import { spawn } from 'node:child_process';
import { runLoad } from '../../src/load/index.js';
import { cpuSeconds, memPeakSampler, processTree, type MemMb } from './proc.js';

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  latencyMs: Record<string, number>;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  switch (unit) {
    case 'us': return v / 1000;
    case 'ms': return v;
    case 's': return v * 1000;
    case 'm': return v * 60_000;
    default: throw new Error(`unknown wrk time unit ${unit}`);
  }
}

/** Parses wrk's text output (run with --latency). */
export function parseWrkOutput(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)/m.exec(text);
  if (!rps || !total) throw new Error(`could not parse wrk output: ${text.trim().slice(-300)}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const latencyMs: Record<string, number> = {};
  for (const m of text.matchAll(/^\s+(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m)\s*$/gm)) latencyMs[`p${m[1]}`] = toMs(m[2], m[3]);
  return {
    requests: Number(total[1]),
    durationS: toMs(total[2], total[3]) / 1000,
    rps: Number(rps[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    latencyMs,
  };
}

export interface Target { url: string; host?: string }

/** Proxy processes whose CPU and memory are measured, by role (e.g. "client", "server"). */
export type ProxyPids = Record<string, number>;

export interface ResourceUse {
  /** CPU seconds per proxy during the run. */
  cpuSeconds: Record<string, number>;
  /** Peak RSS per proxy during the run, MB. */
  rssPeakMb: Record<string, number>;
  /** Peak RSS, PSS and anonymous memory per proxy during the run (each its own peak), MB. */
  memPeakMb: Record<string, MemMb>;
}

/** Runs `fn` while accounting for the CPU and peak memory of each proxy (and its child processes). */
export async function withResourceUse<T>(proxies: ProxyPids, fn: () => Promise<T>): Promise<{ result: T; use: ResourceUse }> {
  const trees = Object.fromEntries(Object.entries(proxies).map(([role, pid]) => [role, processTree(pid)]));
  const cpu0 = Object.fromEntries(Object.entries(trees).map(([role, pids]) => [role, cpuSeconds(pids)]));
  const samplers = Object.fromEntries(Object.entries(trees).map(([role, pids]) => [role, memPeakSampler(pids)]));
  let result: T;
  try {
    result = await fn();
  } finally {
    for (const s of Object.values(samplers)) s.stop();
  }
  const use: ResourceUse = { cpuSeconds: {}, rssPeakMb: {}, memPeakMb: {} };
  for (const [role, pids] of Object.entries(trees)) {
    use.cpuSeconds[role] = cpuSeconds(pids) - cpu0[role];
    use.memPeakMb[role] = samplers[role].stop();
    use.rssPeakMb[role] = use.memPeakMb[role].rss;
  }
  return { result, use };
}

/** wrk -t1 -cN -dS --latency, pinned to the load core. */
export function runWrk(target: Target, connections: number, seconds: number, core: number | undefined): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...(target.host ? ['-H', `Host: ${target.host}`] : []), target.url];
  const [file, argv] = core === undefined ? ['wrk', args] : ['taskset', ['-c', String(core), 'wrk', ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out.trim().slice(-300)}`));
      try {
        resolve(parseWrkOutput(out));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

export interface PacedResult {
  calls: number;
  errors: number;
  actualQps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/** Istio's latency condition: `qps` total over `connections`, uniform pacing, latency from the intended send time. */
export async function runPaced(target: Target, qps: number, connections: number, seconds: number): Promise<PacedResult> {
  const r = await runLoad({
    url: target.url, headers: target.host ? [['Host', target.host]] : [], connections, qps, uniform: true,
    durationMs: seconds * 1000, timeoutMs: 5000, percentiles: [50, 90, 99],
  });
  const p = (n: number): number => (r.durationHistogram.percentiles.find((x) => x.percentile === n)?.value ?? NaN) * 1000;
  let ok = 0;
  for (const [code, n] of r.retCodes) if (code >= 200 && code < 300) ok += n;
  return { calls: r.calls, errors: r.calls - ok, actualQps: r.actualQps, latencyMs: { p50: p(50), p90: p(90), p99: p(99), max: r.durationHistogram.max * 1000 } };
}
