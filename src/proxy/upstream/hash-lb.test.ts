import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterStats } from '../stats.js';
import { Endpoint } from './endpoint.js';
import { hash32, maglev, ringHash } from './hash-lb.js';
import type { Picker } from './lb.js';

const stats = new ClusterStats();
const eps = (n: number, weights: number[] = []): Endpoint[] => Array.from({ length: n }, (_, i) => {
  const e = new Endpoint('10.0.0.1', 8000 + i, stats, 1000);
  e.weight = weights[i] ?? 1;
  return e;
});

function spread(p: Picker, keys: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let k = 0; k < keys; k++) {
    const e = p.pick(hash32(`user-${k}`))!;
    m.set(e.key, (m.get(e.key) ?? 0) + 1);
  }
  return m;
}

for (const [name, build] of [['ring hash', (e: Endpoint[]) => ringHash(e, 1024, 8 << 20)], ['maglev', (e: Endpoint[]) => maglev(e, 65537)]] as const) {
  void describe(name, () => {
    void it('maps a key to the same host every time and spreads keys evenly', () => {
      const p = build(eps(4));
      for (let k = 0; k < 50; k++) assert.equal(p.pick(hash32(`k${k}`)), p.pick(hash32(`k${k}`)));
      for (const [, n] of spread(p, 8000)) assert.ok(n > 1500 && n < 2500, `${n} of 8000`);
    });

    void it('removing one host of four moves only (about) its keys', () => {
      const all = eps(4);
      const before = build(all);
      const after = build(all.slice(0, 3));
      let moved = 0;
      for (let k = 0; k < 4000; k++) {
        const h = hash32(`user-${k}`);
        const a = before.pick(h)!;
        if (a !== all[3] && after.pick(h) !== a) moved++;
      }
      // Envoy's ring also grows the survivors' share of points, so some keys move between them; modulo would move 75%.
      assert.ok(moved < 4000 * 0.15, `${moved} keys of surviving hosts moved`);
    });

    void it('honours weights', () => {
      const m = spread(build(eps(2, [1, 3])), 8000);
      const share = (m.get('10.0.0.1:8001') ?? 0) / 8000;
      assert.ok(share > 0.68 && share < 0.82, `weight 3 of 4 got ${share}`);
    });
  });
}

void it('hash32 is stable and well mixed', () => {
  assert.equal(hash32('abc'), hash32('abc'));
  assert.notEqual(hash32('abc'), hash32('abd'));
  assert.ok(hash32('') >= 0 && hash32('x'.repeat(1000)) < 2 ** 32);
});
