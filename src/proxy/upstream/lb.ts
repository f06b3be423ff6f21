// Load balancers: a registry by Envoy lb_policy. A balancer builds an immutable Picker from the
// current endpoint set; the picker is replaced on every change, so a request does one sync pick().
import type { Endpoint } from './endpoint.js';
import { maglev, ringHash } from './hash-lb.js';
import { type ClusterPolicy, DEFAULT_POLICY } from './policy.js';

export interface Picker {
  /** An endpoint, or null when the cluster has no healthy endpoint. `hash`: the request's hash_policy value. */
  pick(hash?: number): Endpoint | null;
}

/** Builds a picker over healthy endpoints (non-empty, all of the same priority). */
export type PickerFactory = (endpoints: readonly Endpoint[], policy: ClusterPolicy) => Picker;

const registry = new Map<string, PickerFactory>();

export function registerLoadBalancer(policy: string, factory: PickerFactory): void {
  registry.set(policy, factory);
}

export function hasLoadBalancer(policy: string): boolean {
  return registry.has(policy);
}

const EMPTY: Picker = { pick: () => null };

/**
 * The picker for a cluster: lowest priority level with a healthy (and not outlier-ejected) endpoint,
 * then the policy's choice. Below the panic threshold of healthy hosts in that level, Envoy balances
 * over all of its hosts instead (`panic` reports it).
 */
export function buildPicker(lbPolicy: string, endpoints: readonly Endpoint[], policy: ClusterPolicy = DEFAULT_POLICY, panic?: () => void): Picker {
  // Failover (Istio localityLbSetting): the lowest priority with a host neither unhealthy nor
  // ejected; when every host is ejected, the lowest priority with a healthy one (panic below).
  let best = Infinity;
  let bestAny = Infinity;
  for (const e of endpoints) {
    if (!e.healthy || e.weight <= 0) continue;
    if (e.priority < bestAny) bestAny = e.priority;
    if (!e.ejected && e.priority < best) best = e.priority;
  }
  if (best === Infinity) best = bestAny;
  if (best === Infinity) return EMPTY;
  const level = endpoints.filter((e) => e.healthy && e.priority === best && e.weight > 0);
  let usable = level.filter((e) => !e.ejected);
  if (usable.length === 0 && policy.panicThreshold <= 0) return EMPTY;
  if (usable.length === 0 || (usable.length * 100) / level.length < policy.panicThreshold) {
    usable = level;
    panic?.();
  }
  const factory = registry.get(lbPolicy) ?? registry.get('ROUND_ROBIN')!;
  return factory(usable, policy);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

class RoundRobin implements Picker {
  private i: number;
  constructor(private readonly order: readonly Endpoint[]) {
    // Start at a random offset so many proxies do not all hit the first host.
    this.i = Math.floor(Math.random() * order.length);
  }
  pick(): Endpoint {
    const e = this.order[this.i];
    this.i = this.i + 1 === this.order.length ? 0 : this.i + 1;
    return e;
  }
}

/** Weighted round robin: a smooth-WRR schedule precomputed once (weights reduced by their gcd). */
function roundRobin(endpoints: readonly Endpoint[]): Picker {
  const g = endpoints.reduce((acc, e) => gcd(acc, e.weight), 0) || 1;
  let weights = endpoints.map((e) => e.weight / g);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total > 10_000) weights = weights.map((w) => Math.max(1, Math.round((w * 10_000) / total)));
  if (weights.every((w) => w === weights[0])) return new RoundRobin(endpoints);
  const sum = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const order: Endpoint[] = [];
  for (let n = 0; n < sum; n++) {
    let bi = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i] += weights[i];
      if (current[i] > current[bi]) bi = i;
    }
    current[bi] -= sum;
    order.push(endpoints[bi]);
  }
  return new RoundRobin(order);
}

/** Weighted random via cumulative weights. */
function random(endpoints: readonly Endpoint[]): Picker {
  if (endpoints.length === 1) return { pick: () => endpoints[0] };
  const cum: number[] = [];
  let total = 0;
  for (const e of endpoints) cum.push((total += e.weight));
  return {
    pick(): Endpoint {
      const r = Math.random() * total;
      for (let i = 0; i < cum.length; i++) if (r < cum[i]) return endpoints[i];
      return endpoints[endpoints.length - 1];
    },
  };
}

/** Power of two choices on requests in flight (Envoy's default choice_count 2). */
function leastRequest(endpoints: readonly Endpoint[]): Picker {
  const n = endpoints.length;
  if (n === 1) return { pick: () => endpoints[0] };
  return {
    pick(): Endpoint {
      const a = endpoints[Math.floor(Math.random() * n)];
      let b = endpoints[Math.floor(Math.random() * (n - 1))];
      if (b === a) b = endpoints[n - 1];
      // Weighted like Envoy: active / weight, ties broken by the first pick.
      return b.active / b.weight < a.active / a.weight ? b : a;
    },
  };
}

registerLoadBalancer('ROUND_ROBIN', roundRobin);
registerLoadBalancer('RANDOM', random);
registerLoadBalancer('LEAST_REQUEST', leastRequest);
registerLoadBalancer('RING_HASH', (eps, p) => ringHash(eps, p.ringMin, p.ringMax));
registerLoadBalancer('MAGLEV', (eps, p) => maglev(eps, p.maglevSize));
