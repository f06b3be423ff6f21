// Starts an in-process weftd on free ports with its own workload address range, for tests.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWeftd, type Weftd, type WeftdOptions } from '../../src/weftd/weftd.js';

/**
 * One admin token per test process: CLI subprocesses and in-process CLI calls (captureIO) find it in
 * WEFT_TOKEN, as they would find `<data dir>/admin-token`.
 */
export const TEST_ADMIN_TOKEN = process.env.WEFT_TOKEN ??= `test-${process.pid}-${Math.random().toString(36).slice(2)}`;

let nextBase = 30 + (process.pid % 150);
const CLAIMS = join(tmpdir(), 'weft-test-address-bases');
const claimed: string[] = [];

/** Whether `base` is claimed by a live test process (claims of dead processes are stale). */
function claimedElsewhere(file: string): boolean {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/**
 * A 127.N address base no other test uses, in this process or another: test files run in parallel
 * with nearby pids, so the pid alone made neighbours collide. A base is claimed by a file holding the
 * claimant's pid (exclusive create), released at exit, taken over when its process is gone.
 */
export function uniqueAddressBase(): string {
  mkdirSync(CLAIMS, { recursive: true });
  for (let tries = 0; tries < 221; tries++) {
    const n = nextBase;
    nextBase = nextBase >= 250 ? 30 : nextBase + 1;
    const file = join(CLAIMS, `127.${n}`);
    if (claimedElsewhere(file)) continue;
    rmSync(file, { force: true });
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
    } catch {
      continue; // another process claimed it just now
    }
    if (claimed.length === 0) process.once('exit', () => { for (const f of claimed) rmSync(f, { force: true }); });
    claimed.push(file);
    return `127.${n}`;
  }
  throw new Error('uniqueAddressBase: every 127.N base (30-250) is claimed by a live test process');
}

export async function startTestWeftd(opts: WeftdOptions = {}): Promise<Weftd & { dataDir: string; cleanup(): Promise<void> }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'weftd-test-'));
  const w = await startWeftd({ apiPort: 0, xdsPort: 0, addressBase: uniqueAddressBase(), log: () => {}, adminToken: TEST_ADMIN_TOKEN, ...opts, dataDir });
  return Object.assign(w, {
    dataDir,
    async cleanup() {
      await w.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}
