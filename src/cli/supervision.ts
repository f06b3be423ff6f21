// How `weft run` keeps its children (the sidecar and the app) from outliving it. Node.js has no
// PR_SET_PDEATHSIG, so the sidecar holds an IPC channel to `weft run`: the kernel closes it when
// `weft run` dies, however it dies (SIGKILL included), and the sidecar then deregisters the workload,
// stops the app's process group and exits. The app is arbitrary user code, so it runs in its own
// process group (and session) that the sidecar can signal as a whole. The sidecar has its own group
// as well, so that killing `weft run`'s group (kill -9 -PGID) does not take the sidecar, the app's
// only watchdog, with it.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { sleep } from './processes.js';

/** stdio of a supervised sidecar: output shared with `weft run`, plus the IPC channel (fd 3). */
export const SUPERVISED_STDIO: StdioOptions = ['ignore', 'inherit', 'inherit', 'ipc'];

/** What `weft run` tells its sidecar over the channel. */
export type SupervisorMessage =
  /** The app started: its process group, and how to deregister the workload should `weft run` die. */
  | { type: 'app'; pgid: number; api: string; workloadPath: string }
  /** Drain (stop taking connections, finish in-flight requests, at most drainMs) and exit. */
  | { type: 'stop'; drainMs: number };

/** Signals a supervised sidecar leaves to `weft run`. */
const IGNORED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** How long an orphaned app gets between SIGTERM and SIGKILL. */
export const ORPHAN_APP_GRACE_MS = 3000;

export function tellChild(child: ChildProcess, m: SupervisorMessage): void {
  if (!child.connected) return;
  child.send(m, () => { /* the child is gone: its exit is handled elsewhere */ });
}

/** Signals every process of a process group; false when none is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the group, SIGKILL to whatever is left after graceMs; resolves once the group is empty (or after 2 s more). */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!signalGroup(pgid, 0)) return;
    await sleep(50);
  }
  signalGroup(pgid, 'SIGKILL');
  const gone = Date.now() + 2000;
  while (Date.now() < gone && signalGroup(pgid, 0)) await sleep(50);
}

export interface ParentFollower {
  /** Resolves when the sidecar should exit: told to stop, or orphaned (and the app stopped). */
  done: Promise<void>;
}

/**
 * Sidecar side. `stop(drainMs)` drains and closes the proxy. SIGINT/SIGTERM/SIGHUP are left to
 * `weft run`, which decides the order: leave the endpoints, let peers drop this one, stop the app,
 * deregister, then drain the sidecar.
 */
export function followParent(stop: (drainMs: number) => Promise<void>, log: (m: string) => void, env: NodeJS.ProcessEnv): ParentFollower {
  let app: Extract<SupervisorMessage, { type: 'app' }> | undefined;
  let finished = false;
  // The API client is loaded now, after the sidecar is ready, not among its start-up modules.
  const controlPlane = import('./control-plane.js');
  controlPlane.catch(() => {}); // an orphaned sidecar then just skips the deregistration
  const ignoreSignal = (s: NodeJS.Signals) => log(`${s} ignored: weft run stops this sidecar after its app`);
  for (const s of IGNORED) process.on(s, ignoreSignal);
  const done = new Promise<void>((resolve) => {
    const finish = (work: Promise<void>) => {
      if (finished) return;
      finished = true;
      void work.catch((e: unknown) => log(`stopping: ${(e as Error).message}`)).finally(() => {
        for (const s of IGNORED) process.off(s, ignoreSignal);
        process.off('message', onMessage);
        if (process.connected) process.disconnect();
        resolve();
      });
    };
    const onMessage = (m: SupervisorMessage) => {
      if (m?.type === 'app') app = m;
      else if (m?.type === 'stop') finish(stop(m.drainMs));
    };
    const orphaned = () => finish((async () => {
      log('weft run is gone: deregistering the workload, stopping the app and this sidecar');
      const a = app;
      // Peers stop sending here first; then the app and the proxy go in parallel.
      if (a) {
        await controlPlane.then(({ weftdRequest }) => weftdRequest(a.api, 'DELETE', a.workloadPath, { env, out: process.stdout, err: process.stderr, stdin: process.stdin }))
          .catch(() => undefined);
      }
      await Promise.all([a ? stopGroup(a.pgid, ORPHAN_APP_GRACE_MS) : Promise.resolve(), stop(1000)]);
    })());
    process.on('message', onMessage);
    // weft run may have died while this sidecar was starting.
    if (process.connected) process.once('disconnect', orphaned);
    else orphaned();
  });
  return { done };
}
