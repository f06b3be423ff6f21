// Child process for workloads.test.ts: registers bursts of workloads and prints "ack <name>" for each
// once the registry says it is durable (batched: after durable(); default: when register returns),
// flipping readiness and deregistering some on the way (only ones of the same, not yet acknowledged,
// batch: a killed batch may or may not have happened, and must not undo an earlier acknowledgement), until killed.
import { WorkloadRegistry } from './workloads.js';

const [file, mode] = process.argv.slice(2);
const r = new WorkloadRegistry({ file, addressBase: '127.249', graceMs: 3_600_000, ...(mode === 'batched' ? { batchWindowMs: 2 } : {}) });
let i = 1 + Math.max(-1, ...r.list().map((w) => Number(w.name.slice(1)))); // after the names a previous run used
for (;;) {
  const names: string[] = [];
  for (let j = 0; j < 50; j++, i++) {
    const name = `w${i}`;
    r.register({ name, namespace: 'default', labels: { app: 'burst' }, ports: { http: 9080 }, serviceAccount: 'default', ready: false });
    r.setReady('default', name, true);
    const drop = j > 0 && i % 7 === 0;
    if (drop) r.deregister('default', `w${i - 1}`);
    names.push(drop ? `${name} gone w${i - 1}` : name);
  }
  if (mode === 'batched') await r.durable();
  process.stdout.write(names.map((n) => `ack ${n}\n`).join(''));
  await new Promise((resolve) => setImmediate(resolve));
}
