// Translation benchmark: 1000 services x 3 subsets, 1000 VirtualServices, 3000 workloads in 10
// namespaces. Times createSnapshot, translate for one sidecar, then for 100 sidecars (10 per
// namespace) sharing the per-snapshot memo, the same again fully memoized, and 100 on a fresh snapshot.
// Run: npx tsc -p . && node dist/bench/translate.js   (`npm run bench` calls runTranslateBench())
import { performance } from 'node:perf_hooks';
import type { Resource, Workload } from '../src/model/index.js';
import { fileURLToPath } from 'node:url';
import { createSnapshot, inheritClusterMemos, SnapshotInputCache } from '../src/registry/index.js';
import { translate, translateShared, checkConsistency, type ProxyInfo } from '../src/translate/index.js';

const SERVICES = 1000;
const NAMESPACES = 10;

function inputs(): { resources: Resource[]; workloads: Workload[] } {
  const resources: Resource[] = [];
  const workloads: Workload[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const ns = `ns${i % NAMESPACES}`;
    const name = `svc${i}`;
    const port = 8000 + (i % 20);
    resources.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ name: 'http', port }] } });
    resources.push({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: ns },
      spec: { host: name, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } }, subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })) } });
    resources.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns },
      spec: { hosts: [name], http: [
        { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: name, subset: 'v2' } }] },
        { route: [{ destination: { host: name, subset: 'v1' }, weight: 90 }, { destination: { host: name, subset: 'v3' }, weight: 10 }], timeout: '5s' },
      ] } });
    for (let v = 1; v <= 3; v++) {
      const n = i * 3 + v;
      workloads.push({ name: `${name}-v${v}`, namespace: ns, address: `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
        labels: { app: name, version: `v${v}` }, serviceAccount: name, ports: { http: port }, locality: `region/zone-${v}` });
    }
  }
  return { resources, workloads };
}

function proxyFor(w: Workload): ProxyInfo {
  return { id: `sidecar~${w.address}~${w.name}.${w.namespace}~${w.namespace}.svc.cluster.local`, kind: 'sidecar', name: w.name,
    namespace: w.namespace, labels: w.labels, address: w.address, serviceAccount: w.serviceAccount, workload: w };
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  }
  return v;
}

export interface TranslateTiming { label: string; ms: number }

/**
 * Times snapshot creation and translation (two rounds: cold then warm JIT) and a routing-only
 * rebuild (one VirtualService changed: clusters and endpoints inherited). Returns the timings of
 * the second round and prints every line.
 */
export function runTranslateBench(opts: { log?: (line: string) => void } = {}): TranslateTiming[] {
  const log = opts.log ?? ((l: string) => console.log(l));
  let timings: TranslateTiming[] = [];
  const time = <T>(label: string, f: () => T): T => {
    const t0 = performance.now();
    const v = f();
    const ms = performance.now() - t0;
    timings.push({ label, ms });
    log(`${label.padEnd(64)} ${ms.toFixed(1).padStart(8)} ms`);
    return v;
  };
  const { resources, workloads } = inputs();
  log(`${SERVICES} services x 3 subsets, ${SERVICES} VirtualServices, ${workloads.length} workloads, ${NAMESPACES} namespaces`);
  const proxies = Array.from({ length: 100 }, (_, k) => proxyFor(workloads[(k * 97) % workloads.length]));
  for (let round = 1; round <= 2; round++) {
    timings = [];
    log(`-- round ${round}${round === 1 ? ' (cold JIT)' : ''}`);
    const cache = new SnapshotInputCache();
    const snap = time('createSnapshot', () => createSnapshot(`v${round}`, cache.resourcesOf(resources), cache.workloadsOf(workloads)));
    const one = time('translate, 1 sidecar (builds registry + its namespace)', () => translate(snap, proxies[0]));
    time('translate, 100 sidecars in 10 namespaces (shared memo)', () => { for (const p of proxies) translate(snap, p); });
    time('translate, the same 100 sidecars again (all memoized)', () => { for (const p of proxies) translate(snap, p); });
    const snap2 = createSnapshot(`v${round}b`, resources, workloads);
    time('translate, 100 sidecars on a fresh snapshot (cold memo)', () => { for (const p of proxies) translate(snap2, p); });
    const changed = resources.map((r) => (r.kind === 'VirtualService' && r.metadata.name === 'svc0'
      ? { ...r, metadata: { ...r.metadata, resourceVersion: `changed-${round}` }, spec: { ...(r.spec as object), http: [{ route: [{ destination: { host: 'svc0', subset: 'v2' } }] }] } } : r));
    const changedSnap = time('one VirtualService changed: rebuild + 100 sidecars (incremental)', () => {
      const next = createSnapshot(`v${round}c`, cache.resourcesOf(changed), cache.workloadsOf(workloads));
      inheritClusterMemos(snap, next);
      for (const p of proxies) translateShared(next, p);
      return next;
    });
    // As weftd has its inputs: the store's resources are deep-frozen and keep their identity while
    // unchanged, and the live workloads are the last build's while the registry did not change.
    const storeLike = changedSnap.resources.map((r) => (r.kind === 'VirtualService' && r.metadata.name === 'svc0'
      ? deepFreeze({ ...structuredClone(r), metadata: { ...r.metadata, resourceVersion: `frozen-${round}` }, spec: { ...structuredClone(r.spec as object), http: [{ route: [{ destination: { host: 'svc0', subset: 'v3' } }] }] } }) : r));
    time('the same with inputs as weftd has them (frozen, unchanged ones identical)', () => {
      const next = createSnapshot(`v${round}d`, cache.resourcesOf(storeLike), changedSnap.workloads, undefined, changedSnap);
      inheritClusterMemos(changedSnap, next);
      for (const p of proxies) translateShared(next, p);
    });
    // WEFT_BENCH_INCREMENTAL_ROUNDS=N: the incremental step N more times (for --cpu-prof).
    let prev = snap;
    for (let i = 0; i < Number(process.env.WEFT_BENCH_INCREMENTAL_ROUNDS ?? 0); i++) {
      const edited = resources.map((r) => (r.kind === 'VirtualService' && r.metadata.name === 'svc0'
        ? { ...r, metadata: { ...r.metadata, resourceVersion: `changed-${round}-${i}` }, spec: { ...(r.spec as object), http: [{ route: [{ destination: { host: 'svc0', subset: i % 2 ? 'v1' : 'v2' } }] }] } } : r));
      const next = createSnapshot(`v${round}c${i}`, cache.resourcesOf(edited), cache.workloadsOf(workloads));
      inheritClusterMemos(prev, next);
      for (const p of proxies) translateShared(next, p);
      prev = next;
    }
    if (round === 1) {
      log(`   one sidecar: ${one.listeners.size} listeners, ${one.routes.size} route configs, ${one.clusters.size} clusters, ${one.endpoints.size} CLAs`);
      const problems = checkConsistency(one);
      if (problems.length > 0) log(`   INCONSISTENT: ${problems.slice(0, 3).join('; ')}`);
    }
  }
  return timings;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) runTranslateBench();

/** `npm run bench` entry: a markdown table of the warm round. */
export default function translateSuite(): string {
  const rows = runTranslateBench({ log: () => {} });
  return `| step (1000 services x 3 subsets, 1000 VS, 3000 workloads, 10 namespaces) | ms |\n|---|---|\n${rows.map((r) => `| ${r.label} | ${r.ms.toFixed(1)} |`).join('\n')}`;
}
