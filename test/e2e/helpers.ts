// Shared pieces of the end-to-end tests: plain HTTP calls with a keep-alive agent, and a steady
// load that records every failed request (status, error) while something in the mesh changes.
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, WEFT, waitFor } from '../helpers/mesh.js';

export const SEEDS = join(ROOT, 'test', 'fixtures', 'seeds');
export const BOOKINFO = join(ROOT, 'samples', 'bookinfo');

export interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }

export interface Target {
  host: string;
  port: number;
  /** Origin-form path, or an absolute URL when talking to a sidecar's outbound proxy. */
  path: string;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
}

export function send(t: Target, agent?: Agent, timeoutMs = 5000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const host = t.path.startsWith('http://') ? new URL(t.path).host : `${t.host}:${t.port}`;
    const req = request({ host: t.host, port: t.port, path: t.path, method: t.method ?? 'GET', agent, headers: { host, ...t.headers }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(t.body);
  });
}

/** Polls `check` every 50 ms until it returns true; returns the milliseconds it took, throws past the deadline. */
export async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not true after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LoadResult {
  total: number;
  failures: string[];
  /** Counts by `classify(reply)`. */
  counts: Map<string, number>;
  /** [time since start ms, class] of every successful reply, in completion order. */
  timeline: [number, string][];
}

/** `connections` loops, each sending one request after another on its own keep-alive connection. */
export class SteadyLoad {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  readonly result: LoadResult = { total: 0, failures: [], counts: new Map(), timeline: [] };
  private readonly t0 = Date.now();

  constructor(target: () => Target, connections: number, classify: (r: Reply) => string = (r) => String(r.status), ok: (r: Reply) => boolean = (r) => r.status === 200, pauseMs = 0) {
    for (let i = 0; i < connections; i++) {
      this.loops.push((async () => {
        while (this.running) {
          const t = target();
          try {
            const r = await send(t, this.agent);
            this.result.total++;
            // x-envoy-upstream-service-time tells a reply the first sidecar relayed from one it made itself.
            const relayed = r.headers['x-envoy-upstream-service-time'] !== undefined ? ' (relayed from upstream)' : '';
            if (!ok(r)) this.result.failures.push(`${Date.now() - this.t0}ms ${t.path}: HTTP ${r.status}${relayed} ${r.body.slice(0, 200)}`);
            else {
              const c = classify(r);
              this.result.counts.set(c, (this.result.counts.get(c) ?? 0) + 1);
              this.result.timeline.push([Date.now() - this.t0, c]);
            }
          } catch (e) {
            this.result.total++;
            this.result.failures.push(`${Date.now() - this.t0}ms ${t.path}: ${(e as Error).message}`);
          }
          if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
        }
      })());
    }
  }

  elapsed(): number {
    return Date.now() - this.t0;
  }

  /** Classes of the last `n` successful replies. */
  last(n: number): string[] {
    return this.result.timeline.slice(-n).map(([, c]) => c);
  }

  /** Successful requests so far (to wait for progress). */
  successes(): number {
    return this.result.total - this.result.failures.length;
  }

  async stop(): Promise<LoadResult> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.result;
  }
}

/** Failures grouped by message (time prefix stripped): "N x message (first at T ms, last at T ms)". */
export function summarise(failures: string[]): string[] {
  const groups = new Map<string, number[]>();
  for (const f of failures) {
    const m = /^(\d+)ms (.*)$/s.exec(f);
    const key = (m?.[2] ?? f).slice(0, 160);
    const list = groups.get(key) ?? [];
    list.push(Number(m?.[1] ?? 0));
    groups.set(key, list);
  }
  return [...groups].map(([k, ts]) => `${ts.length} x ${k} (first at ${Math.min(...ts)} ms, last at ${Math.max(...ts)} ms)`);
}

/** Starts `weft run ARGS -- COMMAND` against any weftd (in-process or not); resolves when the sidecar is ready. */
export async function runWorkload(apiUrl: string, token: string | undefined, name: string, args: string[], command: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; address: string; output(): string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, WEFT_CONTROL_PLANE: apiUrl };
  if (token) childEnv.WEFT_TOKEN = token;
  else delete childEnv.WEFT_TOKEN;
  const child = spawn(process.execPath, [WEFT, 'run', '--name', name, ...args, '--control-plane', apiUrl, '--', ...command], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  let address = '';
  await waitFor(`workload ${name}`, async () => {
    const res = await fetch(`${apiUrl}/apis/weft.dev/v1/namespaces/default/workloads/${name}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(1000) });
    if (!res.ok) { await res.arrayBuffer(); return false; }
    const w = await res.json() as { address: string; ready?: boolean };
    address = w.address;
    if (args.includes('--port') && w.ready !== true) return false;
    const admin = await fetch(`http://${w.address}:15000/ready`, { signal: AbortSignal.timeout(1000) });
    await admin.arrayBuffer();
    return admin.ok;
  }, 60_000, child).catch((e: Error) => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } throw new Error(`${e.message}\n--- output of weft run ${name}:\n${out}`); });
  return { child, address, output: () => out };
}

/**
 * Pids of live processes whose environment holds `entry` (e.g. `WEFT_CONTROL_PLANE=URL`): finds a
 * mesh's sidecars and apps wherever they run (`weft run` starts apps in their own process group).
 */
export function processesWithEnv(entry: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'latin1');
      if (env.split('\0').includes(entry) && !/\) Z /.test(readFileSync(`/proc/${d}/stat`, 'latin1'))) out.push(Number(d));
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

/** Pids of `root` and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const list = children.get(Number(ppid)) ?? [];
      list.push(Number(d));
      children.set(Number(ppid), list);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => { out.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(root);
  return out;
}

/** The pids of `pids` that are still alive (zombies count as gone). */
export function alive(pids: number[]): number[] {
  return pids.filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  });
}
