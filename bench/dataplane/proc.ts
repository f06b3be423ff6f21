// Process accounting from /proc: CPU time (utime+stime) and resident memory (RSS, PSS, anonymous) of a process
// and its descendants (nginx's master + worker), plus the machine description for the report.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

export interface ProcStat { pid: number; ppid: number; utimeTicks: number; stimeTicks: number }

/** Parses /proc/<pid>/stat. The command name may hold spaces and parentheses, so fields are read after the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`unexpected /proc stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  // After ')': state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc stat field ${n} is not a number in ${JSON.stringify(text.slice(0, 80))}`);
    return v;
  };
  return { pid, ppid: field(4), utimeTicks: field(14), stimeTicks: field(15) };
}

/** VmRSS in kB from /proc/<pid>/status, or 0 when absent (kernel threads, zombies). */
export function parseVmRssKb(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return m ? Number(m[1]) : 0;
}

let clkTck: number | undefined;
/** Clock ticks per second of the utime/stime fields (almost always 100). */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // exited meanwhile
  }
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds (user + system) used so far by the given processes. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const p of pids) {
    const s = readStat(p);
    if (s) ticks += s.utimeTicks + s.stimeTicks;
  }
  return ticks / clockTicksPerSecond();
}

/** Resident memory of some processes in MB: the headline RSS, and what of it the processes really add. */
export interface MemMb {
  /** VmRSS: every page mapped, including the program's file-backed pages shared with other processes. */
  rss: number;
  /** Proportional set size: shared pages divided among the processes that map them. */
  pss: number;
  /** Anonymous pages (heap, stacks, malloc): private to the process. */
  anon: number;
}

/** `Rss`, `Pss` and `Anonymous` in kB from /proc/<pid>/smaps_rollup; undefined when a field is missing. */
export function parseSmapsRollupKb(text: string): { rss: number; pss: number; anon: number } | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rss = field('Rss');
  const pss = field('Pss');
  const anon = field('Anonymous');
  return rss === undefined || pss === undefined || anon === undefined ? undefined : { rss, pss, anon };
}

/**
 * Summed memory of the given processes (shared pages of a master and its workers count twice in RSS,
 * once in PSS). PSS and anonymous come from smaps_rollup (Linux 4.14+); without it they read 0.
 */
export function memMb(pids: readonly number[]): MemMb {
  const kb = { rss: 0, pss: 0, anon: 0 };
  for (const p of pids) {
    try {
      const rollup = parseSmapsRollupKb(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (rollup) {
        kb.rss += rollup.rss;
        kb.pss += rollup.pss;
        kb.anon += rollup.anon;
        continue;
      }
    } catch {
      // exited, or no smaps_rollup: fall back to VmRSS
    }
    try {
      kb.rss += parseVmRssKb(readFileSync(`/proc/${p}/status`, 'utf8'));
    } catch {
      // exited
    }
  }
  return { rss: kb.rss / 1024, pss: kb.pss / 1024, anon: kb.anon / 1024 };
}

/** Summed VmRSS of the given processes in MB (shared pages of a master and its workers count twice). */
export function rssMb(pids: readonly number[]): number {
  return memMb(pids).rss;
}

/** Samples the peak memory (each of RSS, PSS, anonymous on its own) of some processes every `everyMs` until stopped. */
export function memPeakSampler(pids: readonly number[], everyMs = 200): { stop(): MemMb } {
  const peak: MemMb = { rss: 0, pss: 0, anon: 0 };
  const take = (): void => {
    const m = memMb(pids);
    peak.rss = Math.max(peak.rss, m.rss);
    peak.pss = Math.max(peak.pss, m.pss);
    peak.anon = Math.max(peak.anon, m.anon);
  };
  take();
  const timer = setInterval(take, everyMs);
  return { stop() { clearInterval(timer); take(); return { ...peak }; } };
}

/** Steal and total jiffies from /proc/stat, to tell how much a shared VM lost to its neighbours. */
export function parseCpuSteal(procStatText: string): { steal: number; total: number } {
  const line = procStatText.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no "cpu " line in /proc/stat');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) };
}

export function readCpuSteal(): { steal: number; total: number } {
  return parseCpuSteal(readFileSync('/proc/stat', 'utf8'));
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  kernel: string;
  memTotalMb: number;
  loadAvg: number[];
  tools: Record<string, string>;
}

/** First line a tool prints for its version (nginx and haproxy print to stderr). */
function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'not installed';
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  return {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    tools: { nginx: versionOf('nginx', ['-v']), haproxy: versionOf('haproxy', ['-v']), wrk: versionOf('wrk', ['-v']) },
  };
}
