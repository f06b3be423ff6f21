// Latency statistics the way fortio reports them: count/avg/stddev/min/max/sum, a bucketed
// histogram with cumulative percentages, and percentile targets. Values are seconds.

export interface Stats {
  count: number;
  min: number;
  max: number;
  sum: number;
  avg: number;
  stdDev: number;
}

export interface Bucket {
  /** Lower bound (exclusive, except the first bucket where it is the minimum, inclusive). */
  start: number;
  end: number;
  percent: number;
  count: number;
}

export interface HistogramData extends Stats {
  buckets: Bucket[];
  percentiles: { percentile: number; value: number }[];
}

// Bucket upper bounds in milliseconds, like fortio's default histogram.
const BOUNDS_MS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100,
  200, 300, 400, 500, 600, 700, 800, 900, 1000, 2000, 3000, 4000, 5000, 7500, 10000, 20000, 30000,
  40000, 50000, 60000, 70000, 80000, 90000, 100000,
];

export function stats(values: readonly number[]): Stats {
  const count = values.length;
  if (count === 0) return { count: 0, min: 0, max: 0, sum: 0, avg: 0, stdDev: 0 };
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const avg = sum / count;
  let sq = 0;
  for (const v of values) sq += (v - avg) * (v - avg);
  return { count, min, max, sum, avg, stdDev: Math.sqrt(sq / count) };
}

/** Value below which `p` percent of the samples fall, interpolated between neighbouring samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  if (p <= 0) return sorted[0];
  if (p >= 100) return sorted[sorted.length - 1];
  const pos = (p / 100) * sorted.length - 1;
  if (pos <= 0) return sorted[0];
  const lo = Math.floor(pos);
  const frac = pos - lo;
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

export function histogram(values: readonly number[], targets: readonly number[]): HistogramData {
  const s = stats(values);
  const sorted = [...values].sort((a, b) => a - b);
  const buckets: Bucket[] = [];
  let cumulative = 0;
  let i = 0;
  const bounds = [...BOUNDS_MS.map((ms) => ms / 1000), Infinity];
  let prev = 0;
  for (const bound of bounds) {
    let n = 0;
    while (i < sorted.length && sorted[i] <= bound) {
      n++;
      i++;
    }
    if (n > 0) {
      cumulative += n;
      buckets.push({
        start: buckets.length === 0 ? s.min : Math.max(prev, s.min),
        end: Math.min(bound, s.max),
        percent: (100 * cumulative) / sorted.length,
        count: n,
      });
    }
    prev = bound;
  }
  return { ...s, buckets, percentiles: targets.map((p) => ({ percentile: p, value: percentile(sorted, p) })) };
}
