import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../model/index.js';
import { analyzeFull } from './analyze.js';
import { IncrementalAnalysis } from './analyze-incremental.js';

// A seeded generator of small configs whose resources reference each other a lot (few names), so
// random changes keep creating and resolving every finding the analyzer has.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const freeze = <T>(v: T): T => {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) { Object.freeze(v); for (const x of Object.values(v)) freeze(x); }
  return v;
};

function randomResource(rand: () => number): Resource {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const ns = pick(['default', 'prod', 'istio-system']);
  const name = pick(['a', 'b', 'c', 'd']);
  const host = pick(['a', 'b', 'c', 'x', 'a.prod', 'b.default.svc.cluster.local', '*.example.com', 'api.example.com']);
  const meta = { name, namespace: ns };
  switch (pick(['Service', 'ServiceEntry', 'DestinationRule', 'VirtualService', 'VirtualService', 'Gateway', 'Secret'])) {
    case 'Service': return { apiVersion: 'v1', kind: 'Service', metadata: meta, spec: { ports: [{ port: 80 }] } };
    case 'ServiceEntry': return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: meta, spec: { hosts: [pick(['*.example.com', 'api.example.com', 'x', '*'])] } };
    case 'DestinationRule': return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta,
      spec: { host, subsets: rand() < 0.7 ? [{ name: pick(['v1', 'v2']) }] : [], ...(rand() < 0.2 ? { trafficPolicy: { tls: { mode: 'SIMPLE' } } } : {}) } };
    case 'Gateway': return { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: meta,
      spec: { servers: [{ port: { number: 443 }, tls: { mode: pick(['SIMPLE', 'MUTUAL']), credentialName: pick(['cred', 'other']) } }] } };
    case 'Secret': return { apiVersion: 'v1', kind: 'Secret', metadata: { name: pick(['cred', 'other', 'cred-cacert']), namespace: ns },
      spec: { data: rand() < 0.5 ? { 'tls.crt': 'x' } : { 'tls.crt': 'x', 'ca.crt': 'y' } } };
    default: return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta, spec: {
      hosts: [host, ...(rand() < 0.3 ? [pick(['a', 'b'])] : [])],
      ...(rand() < 0.3 ? { gateways: [pick(['mesh', 'a', 'prod/b', 'c'])] } : {}),
      http: [{ route: [{ destination: { host: pick(['a', 'b', 'x', 'api.example.com']), ...(rand() < 0.6 ? { subset: pick(['v1', 'v2']) } : {}) } }],
        ...(rand() < 0.2 ? { delegate: { name: pick(['a', 'b']) } } : {}),
        ...(rand() < 0.2 ? { mirror: { host: pick(['a', 'c']) } } : {}) }],
    } };
  }
}

const key = (r: Resource) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;

void test('incremental analysis equals the full analysis, findings and order, over random change sequences', () => {
  let checked = 0;
  let findings = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const inc = new IncrementalAnalysis();
    // A store-like config: unique keys, frozen, sorted; an apply's view: items replaced in place, new ones last, unfrozen.
    const store = new Map<string, Resource>();
    for (let i = 0; i < 30; i++) { const r = freeze(randomResource(rand)); store.set(key(r), r); }
    for (let step = 0; step < 60; step++) {
      const sorted = [...store.keys()].sort((a, b) => a.localeCompare(b)).map((k) => store.get(k)!);
      const items = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomResource(rand));
      const deleting = rand() < 0.25;
      const view = new Map(sorted.map((r) => [key(r), r]));
      for (const it of items) if (deleting) view.delete(key(it)); else view.set(key(it), it);
      const tentative = [...view.values()];
      assert.deepEqual(inc.run(tentative), analyzeFull(tentative), `seed ${seed} step ${step} (apply view)`);
      findings += analyzeFull(tentative).length;
      checked++;
      if (rand() < 0.8) { // committed: the store holds frozen copies now
        for (const it of items) if (deleting) store.delete(key(it)); else store.set(key(it), freeze(structuredClone(it)));
      }
      if (rand() < 0.1) { // a reordering with nothing changed
        const shuffled = [...store.values()].sort(() => rand() - 0.5);
        assert.deepEqual(inc.run(shuffled), analyzeFull(shuffled), `seed ${seed} step ${step} (reordered)`);
      }
    }
  }
  assert.ok(checked >= 2000 && findings > 1000, `exercised ${checked} runs with ${findings} findings`);
});

void test('unfrozen inputs are checked again every run, even the same object mutated in place', () => {
  const inc = new IncrementalAnalysis();
  const svc = freeze({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'default' }, spec: {} });
  const vs: Resource = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'v', namespace: 'default' },
    spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' } }] }] } };
  const others = Array.from({ length: 4 }, (_, i) => freeze({ apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}`, namespace: 'default' }, spec: {} }));
  assert.deepEqual(inc.run([svc, vs, ...others]), []);
  (vs.spec as { http: { route: { destination: { host: string } }[] }[] }).http[0].route[0].destination.host = 'missing';
  assert.deepEqual(inc.run([svc, vs, ...others]).map((d) => [d.code, d.path]), [['IST0101', 'spec.http[0].route[0].destination.host']]);
});
