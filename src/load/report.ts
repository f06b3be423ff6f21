// Formats a load result the way fortio prints it, so `weft load ... | grep Code` reads the same.
import os from 'node:os';
import type { Stats } from './histogram.js';
import type { LoadResult } from './types.js';

/** Go's %g-like short form: up to `digits` significant digits, no trailing zeros. */
export function g(x: number, digits = 9): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return String(Number(x.toPrecision(digits)));
}

function statsLine(label: string, s: Stats, digits = 9): string {
  if (s.count === 0) return `${label} : no data`;
  return `${label} : count ${s.count} avg ${g(s.avg, digits)} +/- ${g(s.stdDev, 5)} min ${g(s.min, digits)} max ${g(s.max, digits)} sum ${g(s.sum, digits)}`;
}

function durationText(ms: number): string {
  if (ms < 1000) return `${g(ms, 7)}ms`;
  return `${g(ms / 1000, 7)}s`;
}

function pct(n: number, total: number): string {
  return total === 0 ? '0.0' : ((100 * n) / total).toFixed(1);
}

export function formatFortioReport(r: LoadResult): string {
  const procs = os.availableParallelism();
  const lines: string[] = [];
  const qpsText = r.requestedQps > 0 ? `${g(r.requestedQps)}` : '0';
  const what = r.requestedCalls !== undefined ? `for ${r.requestedCalls} calls` : `for ${durationText(r.requestedDurationMs ?? 0)}`;
  lines.push(`Weft load 0.1.0 (fortio compatible) running at ${qpsText} queries per second, ${procs}->${procs} procs, ${what}: ${r.url}`);
  if (r.proxy) lines.push(`Using HTTP proxy ${r.proxy} (HTTP_PROXY)`);
  const start = r.requestedQps > 0 ? `Starting at ${g(r.requestedQps)} qps` : 'Starting at max qps';
  if (r.requestedCalls !== undefined) {
    const per = Math.floor(r.requestedCalls / r.connections);
    lines.push(`${start} with ${r.connections} thread(s) [gomax ${procs}] for exactly ${r.requestedCalls} calls (${per} per thread + ${r.requestedCalls % r.connections})`);
  } else {
    lines.push(`${start} with ${r.connections} thread(s) [gomax ${procs}] for ${durationText(r.requestedDurationMs ?? 0)}`);
  }
  lines.push(`Ended after ${durationText(r.actualDurationMs)} : ${r.calls} calls. qps=${g(r.actualQps, 5)}`);
  const h = r.durationHistogram;
  lines.push(statsLine('Aggregated Function Time', h));
  lines.push('# range, mid point, percentile, count');
  h.buckets.forEach((b, i) => {
    const lo = i === 0 ? `>= ${g(b.start)}` : `> ${g(b.start)}`;
    lines.push(`${lo} <= ${g(b.end)} , ${g((b.start + b.end) / 2)} , ${b.percent.toFixed(2)}, ${b.count}`);
  });
  for (const p of h.percentiles) lines.push(`# target ${g(p.percentile)}% ${g(p.value)}`);
  lines.push(statsLine('Error cases', r.errorStats));
  for (const [kind, n] of [...r.errors].sort((a, b) => b[1] - a[1])) {
    lines.push(`Error ${kind} : ${n} (${pct(n, r.calls)} %) e.g. ${r.errorSamples.get(kind) ?? ''}`.trimEnd());
  }
  lines.push(`Sockets used: ${r.socketsUsed} (for perfect keepalive, would be ${r.connections})`);
  lines.push(`Uniform: ${r.uniform}, Jitter: false`);
  for (const [code, n] of [...r.retCodes].sort((a, b) => a[0] - b[0])) {
    lines.push(`Code ${code} : ${n} (${pct(n, r.calls)} %)`);
  }
  lines.push(statsLine('Response Header Sizes', r.headerSizes));
  lines.push(statsLine('Response Body/Total Sizes', r.totalSizes));
  lines.push(`All done ${r.calls} calls (plus 0 warmup) ${g(h.avg * 1000, 5)} ms avg, ${g(r.actualQps, 5)} qps`);
  return `${lines.join('\n')}\n`;
}

/** The result in the shape of fortio's JSON output (the fields scripts usually read). */
export function loadResultToJson(r: LoadResult): Record<string, unknown> {
  const h = r.durationHistogram;
  const stat = (s: { count: number; min: number; max: number; sum: number; avg: number; stdDev: number }): Record<string, number> => ({
    Count: s.count, Min: s.min, Max: s.max, Sum: s.sum, Avg: s.avg, StdDev: s.stdDev,
  });
  return {
    RunType: 'HTTP',
    Labels: '',
    StartTime: r.startTime.toISOString(),
    RequestedQPS: r.requestedQps > 0 ? String(r.requestedQps) : 'max',
    RequestedDuration: r.requestedCalls !== undefined ? `exactly ${r.requestedCalls} calls` : `${(r.requestedDurationMs ?? 0) / 1000}s`,
    ActualQPS: r.actualQps,
    ActualDuration: Math.round(r.actualDurationMs * 1e6),
    NumThreads: r.connections,
    Uniform: r.uniform,
    URL: r.url,
    Proxy: r.proxy ?? null,
    DurationHistogram: {
      ...stat(h),
      Data: h.buckets.map((b) => ({ Start: b.start, End: b.end, Percent: b.percent, Count: b.count })),
      Percentiles: h.percentiles.map((p) => ({ Percentile: p.percentile, Value: p.value })),
    },
    ErrorsDurationHistogram: stat(r.errorStats),
    RetCodes: Object.fromEntries([...r.retCodes].map(([k, v]) => [String(k), v])),
    Errors: Object.fromEntries(r.errors),
    Sizes: stat(r.totalSizes),
    HeaderSizes: stat(r.headerSizes),
    SocketCount: r.socketsUsed,
  };
}
