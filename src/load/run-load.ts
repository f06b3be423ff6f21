// The load generator: `connections` workers, each with its own keep-alive connection, making calls
// either as fast as possible or paced to a total qps. When pacing, each call has an intended send
// time; a call sent late because earlier calls were slow has its latency measured from that
// intended time, so a slow server cannot hide its queueing delay by slowing the client down
// (no coordinated omission).
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, CallError, type CallSpec } from './http-call.js';
import { histogram, stats } from './histogram.js';
import { proxyForUrl } from './proxy-env.js';
import type { CurlResult, ErrorKind, LoadOptions, LoadResult } from './types.js';

const DEFAULT_PERCENTILES = [50, 75, 90, 99, 99.9];

function callSpec(opts: LoadOptions): CallSpec {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new Error(`weft load: invalid URL ${JSON.stringify(opts.url)}`);
  }
  if (url.protocol !== 'http:') throw new Error(`weft load: only http:// URLs are supported, got ${JSON.stringify(opts.url)}`);
  const payload = opts.payload === undefined ? undefined : Buffer.isBuffer(opts.payload) ? opts.payload : Buffer.from(opts.payload);
  const timeoutMs = opts.timeoutMs ?? 3000;
  if (!(timeoutMs > 0)) throw new Error(`weft load: -timeout must be positive, got ${timeoutMs}`);
  return {
    url,
    proxy: proxyForUrl(url, opts.env ?? process.env),
    method: (opts.method ?? (payload ? 'POST' : 'GET')).toUpperCase(),
    headers: opts.headers ?? [],
    payload,
    timeoutMs,
  };
}

/** One request, for `-curl`. Rejects with a CallError on transport failure. */
export async function curlOnce(opts: LoadOptions): Promise<CurlResult> {
  const spec = callSpec(opts);
  const agent = new http.Agent({ keepAlive: false });
  try {
    const out = await call(spec, agent);
    return { status: out.status, statusMessage: out.statusMessage, httpVersion: out.httpVersion, rawHeaders: out.rawHeaders, body: out.body };
  } finally {
    agent.destroy();
  }
}

interface Sample {
  latency: number;
  status: number;
  errorKind?: ErrorKind;
  errorMessage?: string;
  headerBytes: number;
  totalBytes: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const spec = callSpec(opts);
  const connections = Math.floor(opts.connections ?? 8);
  if (!(connections >= 1)) throw new Error(`weft load: -c must be at least 1, got ${opts.connections}`);
  const qps = opts.qps ?? 8;
  const paced = qps > 0;
  const totalCalls = opts.requests && opts.requests > 0 ? Math.floor(opts.requests) : undefined;
  const durationMs = totalCalls === undefined ? (opts.durationMs ?? 5000) : undefined;
  if (durationMs !== undefined && !(durationMs > 0)) throw new Error(`weft load: -t must be positive, got ${durationMs}`);
  const uniform = paced && (opts.uniform ?? false);
  const samples: Sample[] = [];
  const seenSockets = new WeakSet<object>();
  let socketsUsed = 0;
  const onSocket = (s: unknown): void => {
    if (typeof s === 'object' && s !== null && !seenSockets.has(s)) {
      seenSockets.add(s);
      socketsUsed++;
    }
  };

  const startTime = new Date();
  const t0 = performance.now();
  const deadline = durationMs === undefined ? Infinity : t0 + durationMs;
  const periodMs = paced ? (1000 * connections) / qps : 0;

  const worker = async (w: number): Promise<void> => {
    const quota = totalCalls === undefined ? Infinity : Math.floor(totalCalls / connections) + (w < totalCalls % connections ? 1 : 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const offset = uniform ? (w * periodMs) / connections : 0;
    try {
      for (let i = 0; i < quota; i++) {
        if (opts.signal?.aborted) break;
        let sent = performance.now();
        if (paced) {
          const intended = t0 + offset + i * periodMs;
          if (intended >= deadline) break;
          const wait = intended - sent;
          if (wait > 0) {
            // On schedule: latency counts from the actual send, so timer lateness (the client's
            // event loop, not the server) is not charged to the server.
            await sleep(wait);
            sent = performance.now();
          } else {
            // Behind schedule because earlier calls were slow: count from the intended time.
            sent = intended;
          }
        } else if (sent >= deadline) {
          break;
        }
        try {
          const out = await call(spec, agent, onSocket);
          const latency = (performance.now() - sent) / 1000;
          samples.push({ latency, status: out.status, headerBytes: out.headerBytes, totalBytes: out.headerBytes + out.body.length });
        } catch (e) {
          const err = e instanceof CallError ? e : new CallError(String(e), 'other');
          samples.push({ latency: (performance.now() - sent) / 1000, status: -1, errorKind: err.kind, errorMessage: err.message, headerBytes: 0, totalBytes: 0 });
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, w) => worker(w)));
  const actualDurationMs = performance.now() - t0;

  const retCodes = new Map<number, number>();
  const errors = new Map<ErrorKind, number>();
  const errorSamples = new Map<ErrorKind, string>();
  for (const s of samples) {
    retCodes.set(s.status, (retCodes.get(s.status) ?? 0) + 1);
    if (s.errorKind) {
      errors.set(s.errorKind, (errors.get(s.errorKind) ?? 0) + 1);
      if (!errorSamples.has(s.errorKind)) errorSamples.set(s.errorKind, s.errorMessage ?? '');
    }
  }
  const isOk = (s: Sample): boolean => s.status >= 200 && s.status < 300;
  const answered = samples.filter((s) => s.status > 0);
  return {
    url: spec.url.href,
    proxy: spec.proxy ? `${spec.proxy.host}:${spec.proxy.port}` : undefined,
    method: spec.method,
    connections,
    requestedQps: paced ? qps : 0,
    requestedCalls: totalCalls,
    requestedDurationMs: durationMs,
    uniform,
    startTime,
    actualDurationMs,
    actualQps: samples.length / (actualDurationMs / 1000),
    calls: samples.length,
    durationHistogram: histogram(samples.map((s) => s.latency), opts.percentiles ?? DEFAULT_PERCENTILES),
    errorStats: stats(samples.filter((s) => !isOk(s)).map((s) => s.latency)),
    retCodes,
    errors,
    errorSamples,
    socketsUsed,
    headerSizes: stats(answered.map((s) => s.headerBytes)),
    totalSizes: stats(samples.map((s) => s.totalBytes)),
  };
}
