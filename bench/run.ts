// Entry of `npm run bench [-- --quick] [--only direct,weft,...] [--seconds N] [--rounds N] [--update-docs] [--no-dataplane] [--from-json FILE]`.
// Runs the data-plane benchmark, then the other suites if their modules are present (bench/xds/push.ts,
// bench/translate.ts, written separately), prints the tables and writes JSON to bench/results/.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runDataplane, TOPOLOGIES } from './dataplane/index.js';
import { killAllNow, stopAll } from './dataplane/processes.js';
import { fullReport, type DataplaneRun } from './dataplane/report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');
const DOC = join(ROOT, 'docs', 'performance.md');
const BEGIN = '<!-- bench:dataplane:begin -->';
const END = '<!-- bench:dataplane:end -->';

const USAGE = `usage: npm run bench -- [--quick] [--seconds N] [--rounds N] [--only ${TOPOLOGIES.map((t) => t.key).join(',')}] [--update-docs] [--no-dataplane] [--from-json FILE]`;

/** Other suites: call the module's exported function if it has one, else skip. */
const OTHER_SUITES = [
  { name: 'xds push', file: 'xds/push.js' },
  { name: 'translate', file: 'translate.js' },
  { name: 'control plane', file: 'control-plane.js' },
];

type SuiteFn = (opts: { quick: boolean }) => unknown;

function suiteFunction(mod: Record<string, unknown>): SuiteFn | undefined {
  for (const name of ['default', 'run', 'main', 'bench']) if (typeof mod[name] === 'function') return mod[name] as SuiteFn;
  return Object.values(mod).find((v): v is SuiteFn => typeof v === 'function');
}

async function runOtherSuites(quick: boolean, results: Record<string, unknown>): Promise<void> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const s of OTHER_SUITES) {
    const file = join(here, s.file);
    if (!existsSync(file)) {
      process.stderr.write(`bench: ${s.name}: skipped (bench/${s.file.replace(/\.js$/, '.ts')} not present)\n`);
      continue;
    }
    // Scripts that run on import would run here; only modules that export something are loaded.
    if (!/^export\s/m.test(readFileSync(file, 'utf8'))) {
      process.stderr.write(`bench: ${s.name}: skipped (the module exports no function; run it directly: node dist/bench/${s.file})\n`);
      continue;
    }
    try {
      const fn = suiteFunction((await import(pathToFileURL(file).href)) as Record<string, unknown>);
      if (!fn) {
        process.stderr.write(`bench: ${s.name}: skipped (the module exports no function)\n`);
        continue;
      }
      const out = await fn({ quick });
      if (typeof out === 'string') process.stdout.write(`\n## ${s.name}\n\n${out}\n`);
      results[s.name] = out;
    } catch (e) {
      process.stderr.write(`bench: ${s.name} failed: ${(e as Error).stack ?? String(e)}\n`);
      results[s.name] = { error: (e as Error).message };
    }
  }
}

/** Replaces the marked section of docs/performance.md with the latest tables. */
export function replaceSection(doc: string, body: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC} has no ${BEGIN} ... ${END} section to update`);
  return `${doc.slice(0, a + BEGIN.length)}\n${body.trim()}\n${doc.slice(b)}`;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      'update-docs': { type: 'boolean', default: false },
      'no-dataplane': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    } }));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds >= 1)) {
    process.stderr.write(`bench: --seconds must be a number >= 1, got ${values.seconds}\n`);
    return 2;
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) {
    process.stderr.write(`bench: --rounds must be an integer >= 1, got ${values.rounds}\n`);
    return 2;
  }
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((k) => !TOPOLOGIES.some((t) => t.key === k)) ?? [];
  if (unknown.length) {
    process.stderr.write(`bench: unknown topology ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }

  if (values['from-json']) {
    // Re-renders the tables of a saved run (e.g. after a change to the report) without measuring again.
    const saved = JSON.parse(readFileSync(values['from-json'], 'utf8')) as { dataplane?: DataplaneRun };
    if (!saved.dataplane) {
      process.stderr.write(`bench: ${values['from-json']} has no "dataplane" results\n`);
      return 2;
    }
    process.stdout.write(`\n## Data plane\n\n${fullReport(saved.dataplane)}\n`);
    if (values['update-docs']) writeFileSync(DOC, replaceSection(readFileSync(DOC, 'utf8'), fullReport(saved.dataplane)));
    return 0;
  }

  const results: Record<string, unknown> = {};
  let dataplane: DataplaneRun | undefined;
  if (!values['no-dataplane']) {
    const { run, report } = await runDataplane({ quick: values.quick, seconds, rounds, only });
    dataplane = run;
    results.dataplane = run;
    process.stdout.write(`\n## Data plane\n\n${report}\n`);
  }
  // --only picks data-plane topologies: the control-plane suites (minutes) are for full runs.
  if (!only) await runOtherSuites(values.quick, results);

  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(RESULTS, `bench-${stamp}${values.quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  process.stderr.write(`bench: results written to ${file}\n`);
  if (values['update-docs'] && dataplane) {
    writeFileSync(DOC, replaceSection(readFileSync(DOC, 'utf8'), fullReport(dataplane)));
    process.stderr.write(`bench: updated the table in ${DOC}\n`);
  }
  return 0;
}

const onSignal = (): void => {
  killAllNow();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main().then(async (code) => {
  await stopAll();
  process.exit(code);
}, async (e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  await stopAll();
  process.exit(1);
});
