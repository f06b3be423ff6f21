// Tables of a data-plane run (markdown, also printed to the terminal) and the goals.
import type { PacedResult, WrkResult } from './measure.js';
import type { MachineInfo } from './proc.js';

export interface ProxyMeasure {
  readyMs: number;
  rssIdleMb: number;
  /** Peak VmRSS under load: the headline the goal is judged by. */
  rssLoadMb: number;
  /** Peak PSS under load (shared file pages, mostly the program's binary, divided among the processes mapping them). Absent in runs before 2026-11-22. */
  pssLoadMb?: number;
  /** Peak anonymous memory under load (heap, malloc, stacks: private to the proxy). */
  anonLoadMb?: number;
  /** CPU seconds per 1000 requests at the paced 1000 rps load (= vCPU per 1000 rps). */
  cpuPer1000Paced: number;
  /** CPU microseconds per request at saturation with 64 connections. */
  cpuUsPerReqSaturated: number;
}

export interface TopologyResult {
  key: string;
  label: string;
  /** Why the row was not measured. */
  skipped?: string;
  c16?: WrkResult;
  c64?: WrkResult;
  paced?: PacedResult;
  /** Median over rounds of (this topology's percentile - direct's in the same round). */
  addedLatencyMs?: { p50: number; p90: number; p99: number };
  /** Per-round values, to see the spread. */
  rounds?: { c16: number[]; c64: number[]; pacedP50: number[]; pacedP99: number[] };
  proxies: Record<string, ProxyMeasure>;
}

export interface DataplaneRun {
  startedAt: string;
  quick: boolean;
  conditions: { rounds: number; saturationSeconds: number; pacedSeconds: number; warmupSeconds: number; pacedQps: number; pacedConnections: number; bodyBytes: number; pinning: string };
  machine: MachineInfo;
  loadAvgAfter: number[];
  stealPercent: number;
  topologies: TopologyResult[];
}

const f = (n: number | undefined, digits = 2): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));
const int = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(head: string[], rows: string[][]): string {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
}

function find(run: DataplaneRun, key: string): TopologyResult | undefined {
  const t = run.topologies.find((x) => x.key === key);
  return t && !t.skipped ? t : undefined;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function ratioCell(t: TopologyResult, base: TopologyResult | undefined): string {
  if (!base || t.skipped) return '–';
  return `${f(ratio(t.c16?.rps, base.c16?.rps))} / ${f(ratio(t.c64?.rps, base.c64?.rps))}`;
}

function errorsCell(t: TopologyResult): string {
  const n = (t.c16 ? t.c16.non2xx + t.c16.socketErrors : 0) + (t.c64 ? t.c64.non2xx + t.c64.socketErrors : 0) + (t.paced?.errors ?? 0);
  return n === 0 ? '0' : `**${n}**`;
}

/** CPU both proxies spend per request at saturation: the least noise-sensitive cost on a shared machine. */
function pairCpuCell(t: TopologyResult): string {
  const all = Object.values(t.proxies);
  return all.length ? int(all.reduce((a, p) => a + p.cpuUsPerReqSaturated, 0)) : '';
}

export function throughputTable(run: DataplaneRun): string {
  const direct = find(run, 'direct');
  const nginx = find(run, 'nginx');
  const nhp = find(run, 'http-proxy');
  return table(
    ['Topology', 'rps, 16 conns', 'rps, 64 conns', '× direct (16 / 64)', '× nginx pair', '× node-http-proxy pair', 'proxies\' CPU µs / req', 'errors'],
    run.topologies.map((t) => t.skipped
      ? [t.label, `skipped: ${t.skipped}`, '', '', '', '', '', '']
      : [t.label, int(t.c16?.rps), int(t.c64?.rps), ratioCell(t, direct), ratioCell(t, nginx), ratioCell(t, nhp), pairCpuCell(t), errorsCell(t)]),
  ) + '\n' + row(['HTTP/2 (h2c, h2) and gRPC', 'not measured yet', '', '', '', '', '', '']);
}

export function latencyTable(run: DataplaneRun): string {
  const added = (t: TopologyResult, k: 'p50' | 'p90' | 'p99'): string => f(t.addedLatencyMs?.[k], 3);
  return table(
    ['Topology', 'p50 ms', 'p90 ms', 'p99 ms', 'added p50', 'added p90', 'added p99', 'achieved rps'],
    run.topologies.filter((t) => !t.skipped && t.paced).map((t) => [
      t.label, f(t.paced!.latencyMs.p50, 3), f(t.paced!.latencyMs.p90, 3), f(t.paced!.latencyMs.p99, 3),
      t.key === 'direct' ? '' : added(t, 'p50'), t.key === 'direct' ? '' : added(t, 'p90'), t.key === 'direct' ? '' : added(t, 'p99'), int(t.paced!.actualQps),
    ]),
  );
}

export function resourceTable(run: DataplaneRun): string {
  const rows: string[][] = [];
  for (const t of run.topologies) {
    if (t.skipped) continue;
    for (const [role, p] of Object.entries(t.proxies)) {
      const opt = (v: number | undefined): string => (v === undefined || v === 0 ? '–' : f(v, 1));
      rows.push([t.label, role, f(p.cpuPer1000Paced, 3), int(p.cpuUsPerReqSaturated), f(p.rssIdleMb, 1), f(p.rssLoadMb, 1), opt(p.pssLoadMb), opt(p.anonLoadMb), int(p.readyMs)]);
    }
  }
  return table(['Topology', 'proxy', 'CPU s / 1000 req @ 1000 rps', 'CPU µs / req @ saturation', 'RSS idle MB', 'RSS under load MB', 'PSS under load MB', 'anonymous under load MB', 'start → ready ms'], rows);
}

interface Goal { goal: string; target: string; measured: string; met: boolean | undefined }

export function goals(run: DataplaneRun): Goal[] {
  const weft = find(run, 'weft');
  const nginx = find(run, 'nginx');
  const nhp = find(run, 'http-proxy');
  const out: Goal[] = [];
  const minRatio = (base: TopologyResult | undefined): number | undefined => {
    const a = ratio(weft?.c16?.rps, base?.c16?.rps);
    const b = ratio(weft?.c64?.rps, base?.c64?.rps);
    return a === undefined || b === undefined ? undefined : Math.min(a, b);
  };
  const vsNginx = minRatio(nginx);
  out.push({ goal: 'sidecar pair rps vs nginx pair', target: '≥ 0.5×', measured: vsNginx === undefined ? '–' : `${f(vsNginx)}× (worse of 16/64 conns)`, met: vsNginx === undefined ? undefined : vsNginx >= 0.5 });
  const vsNhp = minRatio(nhp);
  out.push({ goal: 'sidecar pair rps vs node-http-proxy pair', target: '≥ 2×', measured: vsNhp === undefined ? '–' : `${f(vsNhp)}×`, met: vsNhp === undefined ? undefined : vsNhp >= 2 });
  const add = (k: 'p50' | 'p99'): number | undefined => weft?.addedLatencyMs?.[k];
  const a50 = add('p50');
  const a99 = add('p99');
  out.push({ goal: 'added p50 at 1000 rps / 16 conns', target: '≤ 0.3 ms', measured: a50 === undefined ? '–' : `${f(a50, 3)} ms`, met: a50 === undefined ? undefined : a50 <= 0.3 });
  out.push({ goal: 'added p99 at 1000 rps / 16 conns', target: '≤ 1 ms', measured: a99 === undefined ? '–' : `${f(a99, 3)} ms`, met: a99 === undefined ? undefined : a99 <= 1 });
  const worst = (k: 'cpuPer1000Paced' | 'rssLoadMb' | 'readyMs'): number | undefined => (weft ? Math.max(...Object.values(weft.proxies).map((p) => p[k])) : undefined);
  const cpu = worst('cpuPer1000Paced');
  out.push({ goal: 'CPU per sidecar', target: '≤ 0.10 vCPU per 1000 rps', measured: cpu === undefined ? '–' : `${f(cpu, 3)} (busier sidecar)`, met: cpu === undefined ? undefined : cpu <= 0.1 });
  const rss = worst('rssLoadMb');
  out.push({ goal: 'RSS per sidecar under load', target: '≤ 60 MB', measured: rss === undefined ? '–' : `${f(rss, 1)} MB`, met: rss === undefined ? undefined : rss <= 60 });
  const ready = worst('readyMs');
  out.push({ goal: 'sidecar ready after start', target: '≤ 500 ms', measured: ready === undefined ? '–' : `${int(ready)} ms (slower sidecar)`, met: ready === undefined ? undefined : ready <= 500 });
  return out;
}

export function goalsTable(run: DataplaneRun): string {
  return table(['Goal', 'Target', 'Measured', 'Met'], goals(run).map((g) => [g.goal, g.target, g.measured, g.met === undefined ? 'not measured' : g.met ? 'yes' : '**no**']));
}

export function conditionsText(run: DataplaneRun): string {
  const m = run.machine;
  const c = run.conditions;
  return [
    `Run ${run.startedAt}${run.quick ? ' (--quick)' : ''}. Machine: ${m.nproc} × ${m.cpuModel}, ${m.memTotalMb} MB, ${m.kernel}; Node ${m.node}; ${m.tools.nginx}; ${m.tools.haproxy}; ${m.tools.wrk}.`,
    `Load average before / after: ${m.loadAvg.join(' ')} / ${run.loadAvgAfter.join(' ')}; CPU steal during the run ${f(run.stealPercent, 1)}%.`,
    `HTTP/1.1 keep-alive, GET of a ${c.bodyBytes}-byte body from nginx. All topologies run side by side and are measured in ${c.rounds} interleaved round(s); values are medians over rounds. ` +
      `Saturation: wrk -t1, ${c.saturationSeconds} s per connection count, each right after an unmeasured ${c.warmupSeconds} s load at the same count (pooled proxy-to-proxy connections open, as in steady keep-alive traffic). ` +
      `Latency: ${c.pacedQps} rps over ${c.pacedConnections} connections for ${c.pacedSeconds} s, uniform pacing, measured from the intended send time (weft load); ` +
      `added latency is the topology's percentile minus direct's in the same round. Pinning: ${c.pinning}.`,
  ].join('\n');
}

export function fullReport(run: DataplaneRun): string {
  return [
    '### Throughput (ratios are 16 / 64 connections; CPU is both proxies together, at 64 connections)', '', throughputTable(run), '',
    `### Latency at ${run.conditions.pacedQps} rps, ${run.conditions.pacedConnections} connections`, '', latencyTable(run), '',
    '### CPU and memory per proxy', '', resourceTable(run), '',
    '### Goals', '', goalsTable(run), '',
    '### Conditions', '', conditionsText(run), '',
  ].join('\n');
}
