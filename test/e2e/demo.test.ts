// `weft demo bookinfo` as a user runs it, on free ports: the page through the ingress gateway shows
// reviews v1 (no stars), v2 (black) and v3 (red) in turn; Ctrl-C (SIGINT to the whole foreground
// process group, as a terminal sends it) stops every process the demo started.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited } from '../../src/cli/processes.js';
import { WEFT, freePort } from '../helpers/mesh.js';
import { uniqueAddressBase } from '../helpers/weftd.js';
import { pollUntil, processesWithEnv, send } from './helpers.js';

const home = mkdtempSync(join(tmpdir(), 'weft-e2e-demo-'));
const groups: number[] = [];
const pids: number[] = [];

after(() => {
  for (const g of groups) {
    try { process.kill(-g, 'SIGKILL'); } catch { /* already gone */ }
  }
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
  }
  rmSync(home, { recursive: true, force: true });
});

/** Pids still alive in a process group. */
function groupMembers(pgid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter(([, g, st]) => Number(g) === pgid && !st?.startsWith('Z')).map(([p]) => Number(p));
}

/**
 * The demo's processes: its group, plus every sidecar and app (weft run starts each app in its own
 * process group; all of them get the demo's WEFT_CONTROL_PLANE in their environment).
 */
function demoProcesses(demo: { child: ChildProcess; apiUrl: string }): number[] {
  return [...new Set([...groupMembers(demo.child.pid!), ...processesWithEnv(`WEFT_CONTROL_PLANE=${demo.apiUrl}`)])];
}

const describe = (pids: number[]): string => (pids.length ? execFileSync('ps', ['-o', 'pid,pgid,args', '-p', pids.join(',')], { encoding: 'utf8' }) : '');

async function startDemo(extra: string[]): Promise<{ child: ChildProcess; gwPort: number; apiUrl: string; output(): string }> {
  const [apiPort, xdsPort, gwPort] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, WEFT_DEMO_DATA_DIR: join(home, `demo-${apiPort}`) };
  delete env.WEFT_TOKEN;
  delete env.WEFT_CONTROL_PLANE;
  const child = spawn(process.execPath, [WEFT, 'demo', 'bookinfo', '--control-plane', `http://127.0.0.1:${apiPort}`, '--api-port', String(apiPort),
    '--xds-port', String(xdsPort), '--address-base', uniqueAddressBase(), '--ingress-port-map', `80:${gwPort}`, ...extra],
  { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.push(child.pid!);
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  return { child, gwPort, apiUrl: `http://127.0.0.1:${apiPort}`, output: () => out };
}

const stars = (html: string): string => (!html.includes('glyphicon-star') ? 'none' : /<font color="red">/.test(html) ? 'red' : 'black');

test('weft demo bookinfo: the page shows no stars, black and red in turn; Ctrl-C leaves no process behind', async (t) => {
  const demo = await startDemo([]);
  await pollUntil('demo says Bookinfo is up', () => Promise.resolve(demo.output().includes('Bookinfo is up') || demo.child.exitCode !== null), 130_000)
    .catch((e: Error) => { throw new Error(`${e.message}\n${demo.output().slice(-3000)}`); });
  assert.equal(demo.child.exitCode, null, demo.output().slice(-3000));
  assert.match(demo.output(), new RegExp(`Open http://127\\.0\\.0\\.1:${demo.gwPort}/productpage`));
  const members = demoProcesses(demo);
  pids.push(...members);
  t.diagnostic(`${members.length} processes of the demo (demo, gateway, 6 x weft run + sidecar + app)`);
  assert.ok(members.length >= 1 + 1 + 6 * 3, `expected at least 20 processes, found ${members.length}`);

  const seen: string[] = [];
  for (let i = 0; i < 15; i++) {
    const r = await send({ host: '127.0.0.1', port: demo.gwPort, path: '/productpage' });
    assert.equal(r.status, 200);
    assert.ok(r.body.includes('Book Details') && r.body.includes('Book Reviews'), r.body.slice(0, 300));
    seen.push(stars(r.body));
  }
  t.diagnostic(`refreshes: ${seen.join(' ')}`);
  assert.deepEqual([...new Set(seen)].sort(), ['black', 'none', 'red']);

  // Ctrl-C: the terminal signals the whole foreground process group.
  process.kill(-demo.child.pid!, 'SIGINT');
  const { code } = await exited(demo.child);
  assert.equal(code, 0, demo.output().slice(-2000));
  await pollUntil('every process of the demo gone', () => Promise.resolve(demoProcesses(demo).length === 0), 15_000)
    .catch((e: Error) => { throw new Error(`${e.message}: ${describe(demoProcesses(demo))}`); });
});

test('weft demo bookinfo --exit-when-ready exits 0 once the page works and stops everything it started', async () => {
  const demo = await startDemo(['--exit-when-ready']);
  const { code } = await exited(demo.child);
  assert.equal(code, 0, demo.output().slice(-3000));
  assert.match(demo.output(), /Bookinfo is up/);
  await pollUntil('every process of the demo gone', () => Promise.resolve(demoProcesses(demo).length === 0), 15_000)
    .catch((e: Error) => { throw new Error(`${e.message}: ${describe(demoProcesses(demo))}`); });
  const r = await send({ host: '127.0.0.1', port: demo.gwPort, path: '/productpage' }).catch((e: Error) => e);
  assert.ok(r instanceof Error, 'the gateway port is closed');
});
