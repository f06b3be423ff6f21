// Consistent-hash load balancers (Envoy RING_HASH and MAGLEV), built once per endpoint-set change.
// A request brings a 32-bit hash computed from the route's hash_policy; without one the pick is random.
import type { Endpoint } from './endpoint.js';
import type { Picker } from './lb.js';

/** MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units: fast, well mixed, no allocation. */
export function hash32(s: string, seed = 0): number {
  let h = seed >>> 0;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = (s.charCodeAt(i) & 0xffff) | ((s.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Envoy combines several hash policies by rotating the running hash and xoring the next one. */
export function combineHash(acc: number | undefined, h: number): number {
  if (acc === undefined) return h >>> 0;
  return (((acc << 1) | (acc >>> 31)) ^ h) >>> 0;
}

function randomPick(endpoints: readonly Endpoint[]): Endpoint {
  return endpoints[Math.floor(Math.random() * endpoints.length)];
}

/** Ketama-style ring: each host owns weight-proportional points; a hash maps to the next point clockwise. */
export function ringHash(endpoints: readonly Endpoint[], minSize: number, maxSize: number): Picker {
  const total = endpoints.reduce((a, e) => a + e.weight, 0);
  const minNorm = Math.min(...endpoints.map((e) => e.weight / total));
  const scale = Math.min(Math.ceil(minNorm * minSize) / minNorm, maxSize);
  const points: { h: number; i: number }[] = [];
  endpoints.forEach((e, i) => {
    const n = Math.max(1, Math.floor((e.weight / total) * scale + 0.5));
    for (let r = 0; r < n; r++) points.push({ h: hash32(`${e.key}_${r}`), i });
  });
  points.sort((a, b) => a.h - b.h);
  const hashes = Uint32Array.from(points, (p) => p.h);
  const owners = Uint32Array.from(points, (p) => p.i);
  const n = hashes.length;
  return {
    pick(hash?: number): Endpoint | null {
      if (hash === undefined) return randomPick(endpoints);
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (hashes[mid] < hash) lo = mid + 1;
        else hi = mid;
      }
      return endpoints[owners[lo === n ? 0 : lo]];
    },
  };
}

/** Maglev lookup table (prime size, default 65537), weighted as Envoy does. */
export function maglev(endpoints: readonly Endpoint[], tableSize: number): Picker {
  const m = tableSize;
  const table = new Int32Array(m).fill(-1);
  const offsets = endpoints.map((e) => hash32(e.key, 1) % m);
  const skips = endpoints.map((e) => (hash32(e.key, 2) % (m - 1 || 1)) + 1);
  const next = endpoints.map(() => 0);
  const maxW = Math.max(...endpoints.map((e) => e.weight));
  const target = endpoints.map(() => 0);
  let filled = 0;
  for (let round = 0; filled < m; round++) {
    for (let i = 0; i < endpoints.length && filled < m; i++) {
      target[i] += endpoints[i].weight;
      if (target[i] < maxW) continue;
      target[i] -= maxW;
      let c = (offsets[i] + next[i] * skips[i]) % m;
      while (table[c] >= 0) {
        next[i]++;
        c = (offsets[i] + next[i] * skips[i]) % m;
      }
      table[c] = i;
      next[i]++;
      filled++;
    }
  }
  return {
    pick(hash?: number): Endpoint | null {
      if (hash === undefined) return randomPick(endpoints);
      return endpoints[table[hash % m]];
    },
  };
}
