// One phase of the protocols benchmark (plaintext or mTLS): a probe per protocol through the Weft
// pair (does it carry it correctly at all?), then each load direct and through the pair, with the
// sidecars' CPU per request. A probe that fails is a finding: its loads are skipped and the error kept.
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { curlOnce } from '../../src/load/index.js';
import { cpuSeconds, processTree } from '../dataplane/proc.js';
import { runGrpcLoad, runH2load, runPacedH2, runWrk, type LoadResult } from './loads.js';
import { sidecarStats, type ProtocolMesh } from './mesh.js';
import { BODY_BYTES, type Upstreams } from './upstreams.js';

/** The 1 s warm-up of h2load and of the gRPC load (not counted in their requests). */
const WARMUP_MS = 1000;

export interface LoadSettings {
  seconds: number;
  /** Only the handshake load (--handshakes-only): no h2c or gRPC probes and loads. */
  handshakesOnly?: boolean;
  /** h2load clients and streams per client. */
  h2Clients: number;
  h2Streams: number;
  /** Paced h2c load: total rate and connections. */
  pacedQps: number;
  pacedConnections: number;
  /** gRPC calls in flight. */
  grpcConcurrency: number;
  /** Concurrent connections of the handshake load. */
  handshakeConnections: number;
  loadCore: number | undefined;
}

export interface Measured extends LoadResult { sidecarCpuUsPerRequest?: number; upstreamConnections?: number }

export interface PhaseResult {
  mtls: boolean;
  probes: Record<string, { ok: boolean; detail: string; sidecarLogs?: Record<string, string> }>;
  direct: Record<string, Measured>;
  pair: Record<string, Measured | { error: string }>;
  /** Reference pairs (nginx grpc_pass), measured in the plaintext phase. */
  references?: Record<string, Measured | { error: string }>;
}

/** A reference pair to measure like the Weft pair: its gRPC target and its processes (for CPU). */
export interface ReferencePair { grpcTarget: string; pids: number[] }

/** Runs a load and the CPU of `pids` per measured request; with a warm-up, CPU counts from its end (as the load's requests do). */
async function withCpu(pids: number[], fn: () => Promise<LoadResult>, warmupMs = 0): Promise<Measured> {
  const trees = pids.flatMap((p) => processTree(p));
  let c0 = cpuSeconds(trees);
  const timer = warmupMs > 0 ? setTimeout(() => { c0 = cpuSeconds(trees); }, warmupMs) : undefined;
  let r: LoadResult;
  try {
    r = await fn();
  } finally {
    clearTimeout(timer);
  }
  const cpu = cpuSeconds(trees) - c0;
  return pids.length && r.requests > 0 ? { ...r, sidecarCpuUsPerRequest: Math.round((cpu / r.requests) * 1e6) } : r;
}

/** One h2c GET through `origin` with `authority`: status and body length. */
function probeH2(origin: string, authority: string): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const s = http2.connect(origin);
    const done = (ok: boolean, detail: string): void => { s.destroy(); resolve({ ok, detail }); };
    s.on('error', (e) => done(false, `session error: ${e.message}`));
    const req = s.request({ ':path': '/', ':authority': authority });
    let status = 0;
    let bytes = 0;
    let body = '';
    req.on('response', (h) => { status = Number(h[':status']); });
    req.on('data', (c: Buffer) => { bytes += c.length; if (body.length < 200) body += c.toString(); });
    req.on('end', () => done(status === 200 && bytes === BODY_BYTES, `HTTP ${status}, ${bytes} bytes${status !== 200 ? `: ${body.slice(0, 200).trim()}` : ''}`));
    req.on('error', (e) => done(false, `stream error: ${e.message}`));
    req.setTimeout(5000, () => done(false, 'timeout after 5 s'));
    req.end();
  });
}

async function probeGrpc(target: string, authority: string | undefined): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await runGrpcLoad(target, authority, 1, 0.2);
    return r.errors === 0 && r.requests > 0 ? { ok: true, detail: `${r.requests} calls ok` } : { ok: false, detail: `${r.errors} of ${r.requests} calls failed: ${r.note ?? ''}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}

async function probeH1(url: string, host: string): Promise<{ ok: boolean; detail: string }> {
  try {
    // Not fetch(): it drops a Host header silently, and the outbound listener routes by Host.
    const r = await curlOnce({ url, headers: [['Host', host]], timeoutMs: 5000 });
    return { ok: r.status === 200 && r.body.length === BODY_BYTES, detail: `HTTP ${r.status}, ${r.body.length} bytes${r.status !== 200 ? `: ${r.body.toString().slice(0, 200).trim()}` : ''}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}

/** Sum of a counter over the stats whose name matches `re`. */
async function counter(address: string, re: RegExp): Promise<number> {
  let n = 0;
  for (const [name, v] of await sidecarStats(address)) if (re.test(name)) n += v;
  return n;
}

export async function runPhase(mesh: ProtocolMesh, up: Upstreams, mtls: boolean, set: LoadSettings, log: (l: string) => void, nginxGrpc?: ReferencePair): Promise<PhaseResult> {
  const out: PhaseResult = { mtls, probes: {}, direct: {}, pair: {} };
  const outbound = `http://${mesh.outboundHost}:${mesh.outboundPort}`;
  const grpcOutbound = `${mesh.outboundHost}:${mesh.outboundPort}`;
  const sidecarPids = (key: string): number[] => [mesh.client.pid, mesh.servers[key].pid];
  const tag = mtls ? 'mTLS' : 'plaintext';

  // Probes (retried briefly: the client sidecar may still be receiving its last push).
  const probe = async (name: string, fn: () => Promise<{ ok: boolean; detail: string }>): Promise<void> => {
    const deadline = performance.now() + 5000;
    let r = await fn();
    while (!r.ok && performance.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      r = await fn();
    }
    out.probes[name] = r;
    log(`${tag}: probe ${name}: ${r.ok ? 'ok' : 'FAILED'} (${r.detail})`);
    if (!r.ok) {
      // What the two sidecars logged: the first place to look for why.
      const server = mesh.servers[name === 'http1-per-request' ? 'hs' : name];
      out.probes[name].sidecarLogs = { client: mesh.client.output().trim().slice(-1500), server: server?.output().trim().slice(-1500) ?? '' };
    }
  };
  if (!set.handshakesOnly) {
    await probe('h2c', () => probeH2(outbound, mesh.authority.h2c));
    await probe('h2c-h1app', () => probeH2(outbound, mesh.authority['h2c-h1app']));
    await probe('grpc', () => probeGrpc(grpcOutbound, mesh.authority.grpc));
  }
  await probe('http1-per-request', () => probeH1(`${outbound}/`, mesh.authority.hs));

  const pairLoad = async (key: string, probeName: string, upstreamKey: string, fn: () => Promise<LoadResult>, extra?: () => Promise<number>, warmupMs = 0): Promise<void> => {
    if (!out.probes[probeName].ok) {
      out.pair[key] = { error: `not measured: the probe failed (${out.probes[probeName].detail})` };
      return;
    }
    try {
      const before = extra ? await extra() : 0;
      const m = await withCpu(sidecarPids(upstreamKey), fn, warmupMs);
      if (extra) m.upstreamConnections = (await extra()) - before;
      out.pair[key] = m;
      log(`${tag}: pair ${key}: ${Math.round(m.rps)} /s, ${m.errors} errors${m.latencyMs ? `, p50 ${m.latencyMs.p50.toFixed(2)} ms p99 ${m.latencyMs.p99.toFixed(2)} ms` : ''}`);
    } catch (e) {
      out.pair[key] = { error: (e as Error).message };
      log(`${tag}: pair ${key} failed: ${(e as Error).message}`);
    }
  };
  const directLoad = async (key: string, fn: () => Promise<LoadResult>): Promise<void> => {
    out.direct[key] = await fn();
    const m = out.direct[key];
    log(`${tag}: direct ${key}: ${Math.round(m.rps)} /s, ${m.errors} errors${m.latencyMs ? `, p50 ${m.latencyMs.p50.toFixed(2)} ms p99 ${m.latencyMs.p99.toFixed(2)} ms` : ''}`);
  };

  const h2AndGrpcLoads = async (): Promise<void> => {
    const h2Direct = `http://127.0.0.1:${up.h2cPort}/`;
    const s = set.seconds;
    // Saturation and the paced load, direct then through the pair, back to back.
    await directLoad('h2c-saturation', () => runH2load(h2Direct, undefined, set.h2Clients, set.h2Streams, s, set.loadCore));
    await pairLoad('h2c-saturation', 'h2c', 'h2c', () => runH2load(`${outbound}/`, mesh.authority.h2c, set.h2Clients, set.h2Streams, s, set.loadCore), undefined, WARMUP_MS);
    await directLoad('h2c-paced', () => runPacedH2(`http://127.0.0.1:${up.h2cPort}`, undefined, set.pacedQps, set.pacedConnections, s));
    await pairLoad('h2c-paced', 'h2c', 'h2c', () => runPacedH2(outbound, mesh.authority.h2c, set.pacedQps, set.pacedConnections, s));
    // The same h2c loads to a Service port named http2 whose app port is nginx's HTTP/1.1 port: the
    // path the pair can carry today (h2c downstream and between the sidecars, HTTP/1.1 to the app).
    await pairLoad('h2c-h1app-saturation', 'h2c-h1app', 'h2c-h1app', () => runH2load(`${outbound}/`, mesh.authority['h2c-h1app'], set.h2Clients, set.h2Streams, s, set.loadCore), undefined, WARMUP_MS);
    await pairLoad('h2c-h1app-paced', 'h2c-h1app', 'h2c-h1app', () => runPacedH2(outbound, mesh.authority['h2c-h1app'], set.pacedQps, set.pacedConnections, s));
    await directLoad('grpc', () => runGrpcLoad(`127.0.0.1:${up.grpcPort}`, undefined, set.grpcConcurrency, s));
    await pairLoad('grpc', 'grpc', 'grpc', () => runGrpcLoad(grpcOutbound, mesh.authority.grpc, set.grpcConcurrency, s), undefined, WARMUP_MS);
    if (nginxGrpc) {
      try {
        const m = await withCpu(nginxGrpc.pids, () => runGrpcLoad(nginxGrpc.grpcTarget, undefined, set.grpcConcurrency, s), WARMUP_MS);
        out.references = { 'grpc-nginx': m };
        log(`${tag}: nginx grpc_pass pair: ${Math.round(m.rps)} calls/s, ${m.errors} errors, p50 ${m.latencyMs?.p50.toFixed(2)} ms p99 ${m.latencyMs?.p99.toFixed(2)} ms`);
      } catch (e) {
        out.references = { 'grpc-nginx': { error: (e as Error).message } };
        log(`${tag}: nginx grpc_pass pair failed: ${(e as Error).message}`);
      }
    }
  };
  if (!set.handshakesOnly) await h2AndGrpcLoads();
  // A new sidecar-to-sidecar connection per request: the client sidecar's upstream connections to bench-hs.
  await pairLoad('handshakes', 'http1-per-request', 'hs', () => runWrk(`${outbound}/`, mesh.authority.hs, set.handshakeConnections, set.seconds, set.loadCore),
    () => counter(mesh.client.address, /^cluster\.outbound\|\d+\|\|bench-hs\..*\.upstream_cx_total$/));
  return out;
}
