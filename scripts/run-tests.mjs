#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's built-in test runner.
// Node 20 has no glob support in `node --test`, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring filter ...]
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
const args = ['--test', `--test-concurrency=${concurrency}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files];
const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root });
child.on('exit', (code, signal) => {
  const count = (name) => {
    try {
      const m = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(readFileSync(tapFile, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  };
  const failed = count('fail') + count('cancelled');
  console.log(`\ntests: ${count('pass')} passed, ${failed} failed, ${count('skipped') + count('todo')} skipped`);
  process.exit(code ?? (signal ? 1 : 0));
});
