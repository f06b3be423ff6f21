// FileStore commit latency: N sequential one-resource applies (a VirtualService weight change, as
// the control-plane bench makes) against a FileStore holding 300 resources, timed from apply() to
// its acknowledgement. Two passes: paced (a gap after each ack, as `weft apply` by hand or the
// control-plane bench, so the post-ack file writes are done before the next apply) and
// back-to-back (each apply right after the previous ack: the post-ack work is on the path).
// Run: npx tsc -p . && node dist/bench/store-commit.js [applies=200] [gapMs=20] [parent dir=os.tmpdir()] [initial resources=300]
// WEFT_BENCH_DISK_NOISE=1 adds a child process writing 1 MiB chunks with fsync in a loop on the same
// disk (a busy disk, as when other tests and builds run), to see the fsync outliers.
import { fork } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileStore } from '../src/store/file.js';
import type { Resource } from '../src/model/index.js';

const vs = (i: number, weight: number): Resource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `svc-${i}`, namespace: 'default' },
  spec: { hosts: [`svc-${i}`], http: [{ route: [
    { destination: { host: `svc-${i}`, subset: 'v1' }, weight },
    { destination: { host: `svc-${i}`, subset: 'v2' }, weight: 100 - weight },
  ] }] },
});

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function pass(store: FileStore, applies: number, gapMs: number, label: string): Promise<void> {
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < applies; k++) {
    const t = performance.now();
    await store.apply([{ op: 'put', resource: vs(k % 100, 1 + (k % 99)) }]);
    lat.push(performance.now() - t);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(2);
  console.log(`${label.padEnd(13)} ${applies} applies: apply -> commit p50 ${f(pct(lat, 50))} ms, p90 ${f(pct(lat, 90))}, p99 ${f(pct(lat, 99))}, max ${f(lat[lat.length - 1])}; `
    + `CPU ${(((cpu.user + cpu.system) / applies) / 1000).toFixed(2)} ms per apply (incl. post-ack file writes)`);
}

function diskNoise(dir: string): never {
  const fd = openSync(join(dir, 'noise'), 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  for (let i = 0; ; i++) {
    writeSync(fd, chunk, 0, chunk.length, (i % 16) * chunk.length);
    fsyncSync(fd);
    if (i % 64 === 63) { closeSync(openSync(join(dir, `n${i}`), 'w')); rmSync(join(dir, `n${i}`)); } // some metadata too
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--noise') diskNoise(process.argv[3]);
  const applies = Number(process.argv[2] ?? 200);
  const gapMs = Number(process.argv[3] ?? 20);
  const root = mkdtempSync(join(process.argv[4] ?? tmpdir(), 'weft-bench-store-'));
  const noise = process.env.WEFT_BENCH_DISK_NOISE ? fork(fileURLToPath(import.meta.url), ['--noise', root]) : undefined;
  try {
    const store = await FileStore.open(join(root, 'config'));
    const initial = Number(process.argv[5] ?? 300);
    let t = performance.now();
    await store.apply(Array.from({ length: initial }, (_, i) => ({ op: 'put' as const, resource: vs(i, 90) })));
    const bulkMs = performance.now() - t;
    t = performance.now();
    await store.apply([{ op: 'put', resource: vs(0, 50) }]);
    console.log(`initial batch of ${initial}: apply -> commit ${bulkMs.toFixed(1)} ms; the next apply right after it ${(performance.now() - t).toFixed(1)} ms`);
    await pass(store, 20, gapMs, 'warm-up');
    await pass(store, applies, gapMs, `paced ${gapMs} ms`);
    await pass(store, applies, 0, 'back-to-back');
    t = performance.now();
    await store.close();
    const closeMs = performance.now() - t;
    t = performance.now();
    const again = await FileStore.open(join(root, 'config'));
    console.log(`close ${closeMs.toFixed(1)} ms, reopen ${(performance.now() - t).toFixed(1)} ms (${(await again.list()).length} resources, revision ${again.revision()})`);
    await again.close();
  } finally {
    noise?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
