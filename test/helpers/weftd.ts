// Starts an in-process weftd on free ports with its own workload address range, for tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWeftd, type Weftd, type WeftdOptions } from '../../src/weftd/weftd.js';

/**
 * One admin token per test process: CLI subprocesses and in-process CLI calls (captureIO) find it in
 * WEFT_TOKEN, as they would find `<data dir>/admin-token`.
 */
export const TEST_ADMIN_TOKEN = process.env.WEFT_TOKEN ??= `test-${process.pid}-${Math.random().toString(36).slice(2)}`;

let nextBase = 30 + (process.pid % 150);

/** A 127.N address base no other test in this process uses (tests in other processes differ by pid). */
export function uniqueAddressBase(): string {
  const n = nextBase;
  nextBase = nextBase >= 250 ? 30 : nextBase + 1;
  return `127.${n}`;
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
