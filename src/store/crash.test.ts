// Kills a process mid-stream of FileStore batches (SIGKILL: no cleanup) and checks that after reopening,
// every acknowledged batch is there, no batch is half-applied, and no file is corrupt.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from './file.js';
import type { StoreLoadProblem } from './types.js';

const childScript = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'weft-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * Runs the child until it has acknowledged `acks` more batches, then SIGKILLs it `jitterMs` later (so the
 * kill lands at varying points inside the next batch's writes); returns the last ack seen.
 */
function runAndKill(dir: string, acks: number, jitterMs: number, checkpointBytes?: number): Promise<{ batch: number; rv: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, dir, ...(checkpointBytes ? [String(checkpointBytes)] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = { batch: 0, rv: 0 };
    let seen = 0;
    let buf = '';
    let stderr = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child made only ${seen} acks in time; stderr: ${stderr}`)); }, 15000);
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = /^ack (\d+) (\d+)$/.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (!m) continue;
        last = { batch: Number(m[1]), rv: Number(m[2]) };
        if (++seen === acks) setTimeout(() => child.kill('SIGKILL'), jitterMs);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && seen >= acks) resolve(last);
      else reject(new Error(`child exited early (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

async function checkConsistent(dir: string, acked: { batch: number; rv: number }): Promise<number> {
  const problems: StoreLoadProblem[] = [];
  const store = await FileStore.open(dir, { onProblem: (p) => problems.push(p) });
  try {
    assert.deepEqual(problems.filter((p) => !/incomplete journal/.test(p.message)), [], 'no corrupt resource files');
    const counter = await store.get({ kind: 'VirtualService', namespace: 'crash', name: 'counter' });
    assert.ok(counter, 'the counter exists');
    const applied = (counter.spec as { n: number }).n;
    assert.ok(applied >= acked.batch, `acknowledged batch ${acked.batch} is durable (store is at batch ${applied})`);
    assert.ok(Number(store.revision()) >= acked.rv, `revision ${store.revision()} >= acknowledged ${acked.rv}`);
    const names = new Set((await store.list({ namespace: 'crash' })).map((r) => r.metadata.name));
    for (let i = 1; i <= applied; i++) {
      for (const j of [0, 1]) assert.ok(names.has(`b${i}-${j}`), `b${i}-${j} of applied batch ${i} exists`);
      assert.equal(names.has(`b${i}-2`), i === applied, `b${i}-2 exists only for the last batch (batch ${i}, last ${applied})`);
    }
    assert.equal(names.size, 2 * applied + 1 + 1, 'nothing from an unapplied batch exists');
    return applied;
  } finally {
    await store.close();
  }
}

void test('FileStore survives SIGKILL at arbitrary moments without losing acknowledged batches or tearing one', async () => {
  const dir = join(root, 'data');
  let previous = 0;
  for (const acks of [1, 7, 23, 4, 40, 2, 12, 3]) {
    const acked = await runAndKill(dir, acks, Math.random() * 8);
    assert.ok(acked.batch > previous, 'the child continued from the recovered state');
    previous = await checkConsistent(dir, acked);
  }
});

void test('FileStore survives SIGKILL while its write-ahead logs rotate every few batches (background checkpoints)', async () => {
  const dir = join(root, 'data-rotating');
  let previous = 0;
  for (const acks of [9, 2, 17, 5, 30, 1, 11]) {
    // A batch's record is ~3 KB: 8 KiB rotates the logs every third batch.
    const acked = await runAndKill(dir, acks, Math.random() * 8, 8192);
    assert.ok(acked.batch > previous, 'the child continued from the recovered state');
    previous = await checkConsistent(dir, acked);
  }
});
