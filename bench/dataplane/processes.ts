// Starting the processes of a benchmark: installing missing tools, pinning to a core, waiting for a
// port with fine-grained polling (start-to-ready is measured), and killing everything at the end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { stopChild, tcpOpen } from '../../src/cli/processes.js';

const APT_PACKAGES: Record<string, string> = { nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk' };

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs nginx, haproxy and wrk with apt-get when missing (apt-get update only if the first try fails). */
export function ensureTools(log: (l: string) => void): void {
  const missing = Object.keys(APT_PACKAGES).filter((c) => !hasCommand(c));
  if (missing.length === 0) return;
  const pkgs = missing.map((c) => APT_PACKAGES[c]);
  const install = (): boolean => {
    log(`installing ${pkgs.join(', ')} (apt-get install -y)`);
    const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return r.status === 0;
  };
  if (!install()) {
    log('apt-get install failed; running apt-get update and retrying');
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (!install()) throw new Error(`could not install ${pkgs.join(', ')}; install them by hand (apt-get install -y ${pkgs.join(' ')})`);
  }
  const still = Object.keys(APT_PACKAGES).filter((c) => !hasCommand(c));
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
}

/** Cores for the proxies and for the load generator + upstream; no pinning on a single core. */
export interface Pinning { proxyCore?: number; loadCore?: number }

export function defaultPinning(): Pinning {
  const n = os.cpus().length;
  return n >= 2 && hasCommand('taskset') ? { proxyCore: 0, loadCore: 1 } : {};
}

/** Pins the current process (all its threads) to a core: the in-process load generator runs here. */
export function pinSelf(core: number | undefined): void {
  if (core === undefined) return;
  spawnSync('taskset', ['-a', '-pc', String(core), String(process.pid)], { stdio: 'ignore' });
}

export interface Started {
  child: ChildProcess;
  pid: number;
  name: string;
  output(): string;
}

const running = new Set<Started>();

/** Spawns `cmd args` (through `taskset -c core`, which execs, so the pid is the command's). */
export function startProcess(name: string, cmd: string, args: string[], core: number | undefined, cwd?: string, env?: NodeJS.ProcessEnv): Started {
  const [file, argv] = core === undefined ? [cmd, args] : ['taskset', ['-c', String(core), cmd, ...args]];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd, env });
  let out = '';
  const keep = (c: Buffer): void => { out = (out + c.toString()).slice(-4000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (e) => { out += `\nspawn error: ${e.message}`; });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const s: Started = { child, pid: child.pid, name, output: () => out };
  running.add(s);
  child.once('exit', () => running.delete(s));
  return s;
}

export async function stopProcess(s: Started): Promise<void> {
  await stopChild(s.child, 3000);
  running.delete(s);
}

/** Kills every process this benchmark started (on exit or interrupt). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => stopProcess(s)));
}

export function killAllNow(): void {
  for (const s of running) s.child.kill('SIGKILL');
}

/** Polls `check` every `everyMs` until true; returns the ms since `since`. Fails if the process exits. */
export async function pollUntil(what: string, check: () => Promise<boolean>, since: number, timeoutMs: number, proc?: Started, everyMs = 5): Promise<number> {
  const deadline = since + timeoutMs;
  for (;;) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${what}: ${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.output().trim().slice(-600)}`);
    }
    if (await check().catch(() => false)) return performance.now() - since;
    if (performance.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms${proc ? `; output: ${proc.output().trim().slice(-600)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts a process and measures spawn-to-accepting on host:port. */
export async function startListening(name: string, cmd: string, args: string[], core: number | undefined, host: string, port: number): Promise<Started & { readyMs: number }> {
  const t0 = performance.now();
  const s = startProcess(name, cmd, args, core);
  const readyMs = await pollUntil(`${name} on ${host}:${port}`, () => tcpOpen(host, port), t0, 10_000, s);
  return Object.assign(s, { readyMs });
}
