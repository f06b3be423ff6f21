#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's built-in test runner.
// Node 20 has no glob support in `node --test`, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring filter ...]
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(dist, []).filter((f) => filters.length === 0 || filters.some((s) => relative(dist, f).includes(s))).sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.WEFT_TEST_CONCURRENCY ?? '2';
// Spec output for people; a TAP copy to count from, so the run ends with one plain summary line
// (node's spec reporter ends with the list of failing tests, todo ones included).
const tapFile = join(mkdtempSync(join(tmpdir(), 'weft-tests-')), 'results.tap');
// A test that hangs fails after this long instead of holding the run (and CI) until its own limit.
const testTimeoutMs = process.env.WEFT_TEST_TIMEOUT_MS ?? '240000';
const args = ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${testTimeoutMs}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files];
// Every process the tests start inherits this marker, so processes a timed-out or crashed test
// left behind (a `weft demo`, a sidecar) can be found and stopped when the run ends: they would
// otherwise hold ports for the next run and CI's output pipe open.
const runMarker = `WEFT_TEST_RUN=${randomUUID()}`;
const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root, env: { ...process.env, WEFT_TEST_RUN: runMarker.slice('WEFT_TEST_RUN='.length) } });

/** Kills the processes still carrying this run's marker (Linux: /proc/PID/environ); returns how many. */
function killLeftovers() {
  let killed = 0;
  let pids = [];
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid); } catch { return 0; }
  for (const pid of pids) {
    let environ;
    try { environ = readFileSync(`/proc/${pid}/environ`, 'latin1'); } catch { continue; }
    if (!environ.split('\0').includes(runMarker)) continue;
    try { process.kill(Number(pid), 'SIGKILL'); killed++; } catch { /* already gone */ }
  }
  return killed;
}
// And a budget for the whole run: a test file whose process never exits (a leaked handle after a
// timed-out test) must not hold CI either. The summary below then counts the run as failed.
const budgetMs = Number(process.env.WEFT_TEST_BUDGET_MS ?? 45 * 60_000);
let overBudget = false;
const budget = setTimeout(() => {
  overBudget = true;
  console.error(`\nrun-tests: the run exceeded its budget of ${budgetMs / 60_000} min; stopping it`);
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
}, budgetMs);
budget.unref();
child.on('exit', (code, signal) => {
  clearTimeout(budget);
  const count = (name) => {
    try {
      const m = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(readFileSync(tapFile, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  };
  const leftovers = killLeftovers();
  if (leftovers > 0) console.error(`run-tests: stopped ${leftovers} process(es) the tests left running`);
  const failed = count('fail') + count('cancelled') + (overBudget ? 1 : 0);
  console.log(`\ntests: ${count('pass')} passed, ${failed} failed, ${count('skipped') + count('todo')} skipped`);
  process.exit(overBudget ? 1 : code ?? (signal ? 1 : 0));
});
