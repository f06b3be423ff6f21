// The loads: h2load (nghttp2) for h2c saturation, a paced h2c client for latency at a fixed rate
// (uniform pacing, latency from each request's intended send time, like the data-plane bench's
// runLoad, which speaks HTTP/1.1 only), a closed-loop gRPC unary load with @grpc/grpc-js, and wrk.
import grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { ECHO_SERVICE } from './grpc-echo.js';

export interface Latency { p50: number; p90: number; p99: number; max: number }

export interface LoadResult { requests: number; errors: number; seconds: number; rps: number; latencyMs?: Latency; note?: string }

export function percentiles(values: number[]): Latency {
  if (values.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(values).sort();
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] };
}

const tools = new Set<ChildProcess>();

/** Kills the load tools still running (on an interrupt). */
export function killTools(): void {
  for (const c of tools) c.kill('SIGKILL');
}

/** Runs a tool to its end (pinned to `core`) and returns its stdout and stderr. */
export function runTool(cmd: string, args: string[], core: number | undefined): Promise<string> {
  const [file, argv] = core === undefined ? [cmd, args] : ['taskset', ['-c', String(core), cmd, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    tools.add(child);
    child.once('exit', () => tools.delete(child));
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${out.trim().slice(-400)}`))));
  });
}

/** Parses h2load's summary ("finished in 5.00s, N req/s", "requests: ... succeeded, F failed, E errored, T timeout", "status codes: ..."). */
export function parseH2load(text: string): LoadResult {
  const fin = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(text);
  const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!fin || !req) throw new Error(`could not parse h2load output: ${text.trim().slice(-400)}`);
  const seconds = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1);
  // Status codes may include the warm-up's responses; errors are what failed plus every non-2xx.
  const non2xx = codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0;
  const errors = non2xx + Number(req[4]) + Number(req[5]) + Number(req[6]);
  return { requests: Number(req[2]), errors, seconds, rps: errors > 0 ? Math.max(0, Number(req[3]) - non2xx) / seconds : Number(fin[3]) };
}

/** h2load -c C -m M -t1 for `seconds` after a 1 s warm-up (h2c prior knowledge); `authority` overrides :authority. */
export async function runH2load(url: string, authority: string | undefined, clients: number, streams: number, seconds: number, core: number | undefined): Promise<LoadResult> {
  const args = ['-t1', `-c${clients}`, `-m${streams}`, '--warm-up-time=1s', `-D${seconds}`, ...(authority ? ['-H', `:authority: ${authority}`] : []), url];
  return parseH2load(await runTool('h2load', args, core));
}

/** Istio's latency condition over h2c: `qps` in total over `connections` sessions, uniform pacing, latency from the intended send time. */
export async function runPacedH2(origin: string, authority: string | undefined, qps: number, connections: number, seconds: number): Promise<LoadResult> {
  const sessions = Array.from({ length: connections }, () => http2.connect(origin));
  for (const s of sessions) s.on('error', () => {});
  const lat: number[] = [];
  let errors = 0;
  let inFlight = 0;
  try {
    await Promise.all(sessions.map((s) => new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('error', reject); })));
    const t0 = performance.now();
    const total = Math.round(qps * seconds);
    const interval = 1000 / qps;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const fire = (intended: number, s: http2.ClientHttp2Session): void => {
        inFlight++;
        const req = s.request({ ':path': '/', ...(authority ? { ':authority': authority } : {}) });
        let status = 0;
        req.on('response', (h) => { status = Number(h[':status']); });
        req.on('data', () => {});
        const done = (ok: boolean): void => {
          inFlight--;
          if (ok && status >= 200 && status < 300) lat.push(performance.now() - intended);
          else errors++;
          if (sent === total && inFlight === 0) resolve();
        };
        req.once('end', () => done(true));
        req.once('error', () => done(false));
        req.setTimeout(5000, () => req.close(http2.constants.NGHTTP2_CANCEL));
        req.end();
      };
      const tick = (): void => {
        const now = performance.now();
        while (sent < total && t0 + sent * interval <= now) {
          fire(t0 + sent * interval, sessions[sent % connections]);
          sent++;
        }
        if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
        else if (inFlight === 0) resolve();
      };
      tick();
    });
    const elapsed = (performance.now() - t0) / 1000;
    return { requests: lat.length + errors, errors, seconds: elapsed, rps: lat.length / elapsed, latencyMs: percentiles(lat) };
  } finally {
    for (const s of sessions) s.destroy();
  }
}

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

/** Closed-loop gRPC unary load: `concurrency` calls in flight on one channel for `seconds` (after a 1 s warm-up). */
export async function runGrpcLoad(target: string, authority: string | undefined, concurrency: number, seconds: number, payloadBytes = 64): Promise<LoadResult> {
  const client = new EchoClient(target, grpc.credentials.createInsecure(), authority ? { 'grpc.default_authority': authority } : {});
  const payload = Buffer.alloc(payloadBytes, 'x');
  const lat: number[] = [];
  let errors = 0;
  let firstError = '';
  let measuring = false;
  let stopAt = Infinity;
  const call = (): Promise<void> => new Promise((resolve) => {
    const t = performance.now();
    (client as unknown as { Echo: (req: Buffer, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void })
      .Echo(payload, { deadline: Date.now() + 5000 }, (err, res) => {
        if (measuring) {
          if (err || !res || res.length !== payloadBytes) {
            errors++;
            firstError ||= err ? `${err.code} ${err.details}` : 'wrong reply';
          } else lat.push(performance.now() - t);
        }
        resolve();
      });
  });
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) await call();
  };
  try {
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (e) => (e ? reject(e) : resolve())));
    const warm = performance.now() + 1000;
    stopAt = warm;
    await Promise.all(Array.from({ length: concurrency }, worker));
    measuring = true;
    const t0 = performance.now();
    stopAt = t0 + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    return { requests: lat.length + errors, errors, seconds: elapsed, rps: lat.length / elapsed, latencyMs: percentiles(lat), ...(firstError ? { note: firstError } : {}) };
  } finally {
    client.close();
  }
}

/** wrk -t1 -cN (HTTP/1.1 keep-alive downstream), requests/s and non-2xx/socket errors. */
export async function runWrk(url: string, host: string | undefined, connections: number, seconds: number, core: number | undefined): Promise<LoadResult> {
  const out = await runTool('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, ...(host ? ['-H', `Host: ${host}`] : []), url], core);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const total = /^\s*(\d+) requests in ([\d.]+)(ms|s)/m.exec(out);
  if (!rps || !total) throw new Error(`could not parse wrk output: ${out.trim().slice(-300)}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const seconds2 = Number(total[2]) / (total[3] === 'ms' ? 1000 : 1);
  return { requests: Number(total[1]), errors: non2xx + sockErrors, seconds: seconds2, rps: (Number(total[1]) - non2xx) / seconds2 };
}
