// The protocols benchmark's table: per measure, direct, the Weft pair plaintext and mTLS, and the ratios.
import type { LoadResult } from './loads.js';
import type { Measured, PhaseResult } from './measure.js';

export interface RawTlsResult { handshakes: number; errors: number; resumed?: number; seconds: number; perSecond: number; cpuUsPerHandshake: number }

export interface ProtocolsRun {
  startedAt: string;
  quick: boolean;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  rawTls?: RawTlsResult | { error: string };
  /** The same raw loops, each resuming its previous session (TLS 1.3 PSK). */
  rawTlsResumed?: RawTlsResult | { error: string };
  phases: PhaseResult[];
}

const fmt = (x: number | undefined, digits = 0): string => (x === undefined || !Number.isFinite(x) ? '' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !(b > 0) ? '' : (a / b).toFixed(2));

function measured(m: Measured | { error: string } | undefined): Measured | undefined {
  return m && !('error' in m) ? m : undefined;
}

function errorOf(m: Measured | { error: string } | undefined): string {
  return m && 'error' in m ? m.error : '';
}

export function renderReport(run: ProtocolsRun): string {
  const plain = run.phases.find((p) => !p.mtls);
  const mtls = run.phases.find((p) => p.mtls);
  const rows: string[] = [];
  const head = '| Measure | direct | Weft pair | Weft pair, mTLS | pair / direct | mTLS pair / direct | mTLS / plaintext pair | sidecars\' CPU µs / req (plain / mTLS) | errors (direct / pair / mTLS) |';
  rows.push(head, `|${' --- |'.repeat(9)}`);
  const errs = (d?: LoadResult, p?: Measured, m?: Measured): string => [d?.errors, p?.errors, m?.errors].map((x) => (x === undefined ? '–' : String(x))).join(' / ');
  const notes: string[] = [];
  const line = (label: string, key: string, value: (r: LoadResult) => number, digits = 0, lowerIsBetter = false, pairKey = key): void => {
    const d = plain?.direct[key] ?? mtls?.direct[key];
    const dm = mtls?.direct[key] ?? d;
    const p = measured(plain?.pair[pairKey]);
    const m = measured(mtls?.pair[pairKey]);
    // A failed probe is listed once below; other failures (a load that broke) per row.
    for (const [what, e] of [['plaintext', errorOf(plain?.pair[pairKey])], ['mTLS', errorOf(mtls?.pair[pairKey])]]) if (e && !e.startsWith('not measured')) notes.push(`${label}, ${what} pair: ${e}`);
    const v = (r?: LoadResult): number | undefined => (r ? value(r) : undefined);
    // Ratios against direct measured in the same phase (drift on a shared machine hits both alike).
    const rp = lowerIsBetter ? ratio(v(plain?.direct[key]), v(p)) : ratio(v(p), v(plain?.direct[key]));
    const rm = lowerIsBetter ? ratio(v(dm), v(m)) : ratio(v(m), v(dm));
    const rmp = lowerIsBetter ? ratio(v(p), v(m)) : ratio(v(m), v(p));
    const cpu = `${fmt(p?.sidecarCpuUsPerRequest)} / ${fmt(m?.sidecarCpuUsPerRequest)}`;
    rows.push(`| ${label} | ${fmt(v(d), digits)} | ${p ? fmt(v(p), digits) : 'fails'} | ${m ? fmt(v(m), digits) : 'fails'} | ${rp} | ${rm} | ${rmp} | ${cpu} | ${errs(d, p, m)} |`);
  };
  line('h2c requests/s (h2load, saturation)', 'h2c-saturation', (r) => r.rps);
  line('h2c p50 ms at fixed rate', 'h2c-paced', (r) => r.latencyMs?.p50 ?? NaN, 3, true);
  line('h2c p99 ms at fixed rate', 'h2c-paced', (r) => r.latencyMs?.p99 ?? NaN, 3, true);
  line('h2c requests/s, app port HTTP/1.1 (see below)', 'h2c-saturation', (r) => r.rps, 0, false, 'h2c-h1app-saturation');
  line('h2c p50 ms at fixed rate, app port HTTP/1.1', 'h2c-paced', (r) => r.latencyMs?.p50 ?? NaN, 3, true, 'h2c-h1app-paced');
  line('h2c p99 ms at fixed rate, app port HTTP/1.1', 'h2c-paced', (r) => r.latencyMs?.p99 ?? NaN, 3, true, 'h2c-h1app-paced');
  line('h2c achieved requests/s at the fixed rate, app port HTTP/1.1', 'h2c-paced', (r) => r.rps, 0, false, 'h2c-h1app-paced');
  line('gRPC unary calls/s', 'grpc', (r) => r.rps);
  line('gRPC p50 ms', 'grpc', (r) => r.latencyMs?.p50 ?? NaN, 3, true);
  line('gRPC p99 ms', 'grpc', (r) => r.latencyMs?.p99 ?? NaN, 3, true);
  const ng = plain?.references?.['grpc-nginx'];
  const ngm = measured(ng);
  if (errorOf(ng)) notes.push(`nginx grpc_pass pair: ${errorOf(ng)}`);
  const gd = plain?.direct.grpc;
  if (ng) {
    rows.push(`| gRPC calls/s, nginx grpc_pass pair (reference) | ${fmt(gd?.rps)} | ${ngm ? fmt(ngm.rps) : 'fails'} |  | ${ratio(ngm?.rps, gd?.rps)} |  |  | ${fmt(ngm?.sidecarCpuUsPerRequest)} (nginx pair) | ${gd?.errors ?? '–'} / ${ngm?.errors ?? '–'} / – |`);
    rows.push(`| gRPC p50 / p99 ms, nginx grpc_pass pair | ${fmt(gd?.latencyMs?.p50, 3)} / ${fmt(gd?.latencyMs?.p99, 3)} | ${fmt(ngm?.latencyMs?.p50, 3)} / ${fmt(ngm?.latencyMs?.p99, 3)} |  |  |  |  |  |  |`);
  }
  const out = [rows.join('\n'), '', 'Latency ratios are direct / pair (higher is better, 1.00 = no added latency), like the throughput ratios.'];

  const hsRows = ['| Handshakes (a new sidecar-to-sidecar connection per request) | per second | sidecar-to-sidecar connections opened | sidecars\' CPU µs per request | × raw node:tls | errors |', `|${' --- |'.repeat(6)}`];
  const raw = run.rawTls && !('error' in run.rawTls) ? run.rawTls : undefined;
  const hp = measured(plain?.pair.handshakes);
  const hm = measured(mtls?.pair.handshakes);
  if (errorOf(plain?.pair.handshakes) && !errorOf(plain?.pair.handshakes).startsWith('not measured')) notes.push(`handshakes, plaintext pair: ${errorOf(plain?.pair.handshakes)}`);
  if (errorOf(mtls?.pair.handshakes) && !errorOf(mtls?.pair.handshakes).startsWith('not measured')) notes.push(`handshakes, mTLS pair: ${errorOf(mtls?.pair.handshakes)}`);
  hsRows.push(`| Weft pair, plaintext (TCP connect per request) | ${hp ? fmt(hp.rps) : 'fails'} | ${fmt(hp?.upstreamConnections)} | ${fmt(hp?.sidecarCpuUsPerRequest)} |  | ${hp?.errors ?? ''} |`);
  hsRows.push(`| Weft pair, mTLS (TLS 1.3 handshake per request) | ${hm ? fmt(hm.rps) : 'fails'} | ${fmt(hm?.upstreamConnections)} | ${fmt(hm?.sidecarCpuUsPerRequest)} | ${ratio(hm?.rps, raw?.perSecond)} | ${hm?.errors ?? ''} |`);
  hsRows.push(`| raw node:tls, mutual TLS 1.3, ECDSA P-256 (2 processes) | ${raw ? fmt(raw.perSecond) : 'fails'} | ${raw ? fmt(raw.handshakes) : ''} | ${fmt(raw?.cpuUsPerHandshake)} (per handshake, both sides) | 1.00 | ${raw?.errors ?? ''} |`);
  const rawR = run.rawTlsResumed && !('error' in run.rawTlsResumed) ? run.rawTlsResumed : undefined;
  if (run.rawTlsResumed) {
    hsRows.push(`| raw node:tls, the same, each loop resuming its last session | ${rawR ? fmt(rawR.perSecond) : 'fails'} | ${rawR ? `${fmt(rawR.handshakes)} (${fmt(rawR.resumed)} resumed)` : ''} | ${fmt(rawR?.cpuUsPerHandshake)} (per handshake, both sides) | ${ratio(rawR?.perSecond, raw?.perSecond)} | ${rawR?.errors ?? ''} |`);
  }
  if (run.rawTls && 'error' in run.rawTls) notes.push(`raw node:tls reference: ${run.rawTls.error}`);
  if (run.rawTlsResumed && 'error' in run.rawTlsResumed) notes.push(`raw node:tls reference with resumption: ${run.rawTlsResumed.error}`);
  out.push('', hsRows.join('\n'), '', `mTLS / plaintext with a new connection per request: ${ratio(hm?.rps, hp?.rps) || 'n/a'}.${hm && rawR ? ` mTLS pair × raw node:tls with resumption: ${ratio(hm.rps, rawR.perSecond)}.` : ''}`);

  const probes = run.phases.flatMap((p) => Object.entries(p.probes).filter(([, r]) => !r.ok).map(([k, r]) => `probe ${k} through the ${p.mtls ? 'mTLS' : 'plaintext'} pair failed (its loads not measured): ${r.detail}`));
  if (probes.length || notes.length) out.push('', 'Failures:', ...[...probes, ...notes].map((n) => `- ${n}`));
  return out.join('\n');
}
