// Child process for the crash test (crash.test.ts): applies an endless stream of batches to a
// FileStore and prints "ack <batch> <resourceVersion>" after each one is acknowledged, until killed.
// Batch i puts b<i>-0, b<i>-1, b<i>-2 and counter{n: i} in namespace "crash", and deletes b<i-1>-2.
import { FileStore } from './file.js';
import type { Resource } from '../model/index.js';
import type { StoreOp } from './types.js';

const res = (name: string, spec: Record<string, unknown>): Resource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'crash' }, spec,
});

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: crash-child <data-dir> [checkpoint-bytes]');
  const store = await FileStore.open(dir, process.argv[3] ? { checkpointBytes: Number(process.argv[3]) } : {});
  const counter = await store.get({ kind: 'VirtualService', namespace: 'crash', name: 'counter' });
  let i = counter ? (counter.spec as { n: number }).n + 1 : 1;
  for (;;) {
    const ops: StoreOp[] = [0, 1, 2].map((j) => ({ op: 'put', resource: res(`b${i}-${j}`, { hosts: [`h${i}`], pad: 'x'.repeat(200 * j) }) }));
    ops.push({ op: 'put', resource: res('counter', { n: i }) });
    if (i > 1) ops.push({ op: 'delete', key: { kind: 'VirtualService', namespace: 'crash', name: `b${i - 1}-2` } });
    const out = await store.apply(ops);
    process.stdout.write(`ack ${i} ${out[3].metadata.resourceVersion}\n`);
    i++;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`crash-child: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
