// Child processes the CLI starts (sidecars, gateways, apps): spawn, wait for readiness, stop cleanly.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';

export const WEFT_BIN = fileURLToPath(new URL('../../../bin/weft.js', import.meta.url));

/** Starts `weft <args>` as a child process running the same Node.js binary. */
export function spawnWeft(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

/**
 * Node.js flags every `weft proxy` process (sidecar, gateway) starts with. The benchmark starts its
 * sidecars with the same (bench/dataplane/weft-pair.ts), so it measures what the mesh runs.
 * `--max-semi-space-size=8`: V8's young generation is two semi-spaces that grow to 16 MB each under
 * load, half of a sidecar's anonymous memory; capped at 8 MB the peak RSS under load drops by ~15 MB
 * for ~1-2% more GC time per request. `--initial-old-space-size=16` and `--heap-growing-percent=50`:
 * V8 lets the old space grow up to ~4x what is live before a full GC (before the first one, from a
 * decaying guess), so a fresh sidecar's RSS peaked at 114-138 MB in its first rounds of load with
 * only 12-18 MB live; the first full GC now comes at 16 MB and later ones at 1.5x what is live (peak
 * 90 MB in 4 of 4 sidecars, ~+0.5-1 us of full-GC time per request). Measured: docs/performance.md,
 * "Sidecar start-up and footprint". V8 reads these only at start. `WEFT_PROXY_NODE_ARGS` (space
 * separated, may be empty) replaces them.
 */
export const PROXY_NODE_ARGS: readonly string[] = ['--max-semi-space-size=8', '--initial-old-space-size=16', '--heap-growing-percent=50'];

/** The Node.js flags for a proxy process: `WEFT_PROXY_NODE_ARGS` when set, else PROXY_NODE_ARGS. */
export function proxyNodeArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.WEFT_PROXY_NODE_ARGS;
  return override === undefined ? [...PROXY_NODE_ARGS] : override.split(/\s+/).filter(Boolean);
}

/** Starts `weft proxy <args>` with the proxy's Node.js flags. */
export function spawnProxy(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [...proxyNodeArgs(opts.env ?? process.env), WEFT_BIN, 'proxy', ...args], { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the process exited with code ${child.exitCode}`);
    if (child && child.signalCode !== null) throw new Error(`${what}: the process was killed by ${child.signalCode}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await sleep(delay);
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  return res.ok;
}

export function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
  });
}

/** A port that is free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  // Below Linux's ephemeral range (32768-60999): a port the kernel hands out for bind(0) or as the
  // source port of an outgoing connection (sidecars open many to 127.0.0.1) can be taken again
  // between our check and the app's listen, which then fails with EADDRINUSE.
  // Nor one of the mesh's own ports (Istio reserves 15000-15099: admin 15000, outbound 15001...):
  // a gateway given 15001 for 0.0.0.0 cannot bind while any sidecar holds ADDRESS:15001.
  for (let i = 0; i < 50; i++) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (port >= 15_000 && port < 15_100) continue;
    if (await canBind(host, port)) return port;
  }
  return await bindZero(host);
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function bindZero(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stopChild(child: ChildProcess, graceMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill(signal);
  });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
