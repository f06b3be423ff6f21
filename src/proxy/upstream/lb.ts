// Load balancers: a registry by Envoy lb_policy. A balancer builds an immutable Picker from the
// current endpoint set; the picker is replaced on every change, so a request does one sync pick().
import type { Endpoint } from './endpoint.js';
import { maglev, ringHash } from './hash-lb.js';
import { type ClusterPolicy, DEFAULT_POLICY } from './policy.js';

export interface Picker {
  /** An endpoint, or null when the cluster has no healthy endpoint. `hash`: the request's hash_policy value. */
  pick(hash?: number): Endpoint | null;
}

/**
 * Builds a picker over healthy endpoints (non-empty, all of the same priority). `weights[i]` is the
 * effective weight of `endpoints[i]` (its load_balancing_weight, scaled down during slow start).
 */
export type PickerFactory = (endpoints: readonly Endpoint[], policy: ClusterPolicy, weights: readonly number[]) => Picker;

const registry = new Map<string, PickerFactory>();

export function registerLoadBalancer(policy: string, factory: PickerFactory): void {
  registry.set(policy, factory);
}

export function hasLoadBalancer(policy: string): boolean {
  return registry.has(policy);
}

const EMPTY: Picker = { pick: () => null };
/** Envoy's default overprovisioning factor (1.4): a locality keeps its full weight until below ~71% healthy. */
const OVERPROVISIONING = 1.4;

/**
 * The picker for a cluster: lowest priority level with a healthy (and not outlier-ejected) endpoint,
 * then the policy's choice. Below the panic threshold of healthy hosts in that level, Envoy balances
 * over all of its hosts instead (`panic` reports it). With locality-weighted balancing a locality is
 * chosen first (by its weight scaled by its share of usable hosts), then a host in it; with slow
 * start, endpoints that joined less than the window before `now` (ms) weigh less.
 */
export function buildPicker(lbPolicy: string, endpoints: readonly Endpoint[], policy: ClusterPolicy = DEFAULT_POLICY, panic?: () => void, now = 0): Picker {
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
  const ss = lbPolicy === 'ROUND_ROBIN' || lbPolicy === 'LEAST_REQUEST' ? policy.slowStart : null;
  const weightOf = (e: Endpoint): number => {
    if (!ss) return e.weight;
    const age = now - e.joinedAt;
    if (age >= ss.windowMs) return e.weight;
    const t = Math.max(1, age) / ss.windowMs;
    return e.weight * Math.max(ss.minWeight, ss.aggression === 1 ? t : t ** (1 / ss.aggression));
  };
  if (!policy.localityWeighted || lbPolicy === 'RING_HASH' || lbPolicy === 'MAGLEV') return factory(usable, policy, usable.map(weightOf));
  return localityWeighted(usable, endpoints.filter((e) => e.priority === best), (eps) => factory(eps, policy, eps.map(weightOf)));
}

function localityKey(e: Endpoint): string {
  const l = e.locality;
  return `${l.region ?? ''}/${l.zone ?? ''}/${l.sub_zone ?? ''}`;
}

/** Whether slow start still scales any endpoint's weight at `now` (the picker must then be rebuilt as time passes). */
export function inSlowStart(endpoints: readonly Endpoint[], policy: ClusterPolicy, now: number): boolean {
  const ss = policy.slowStart;
  return ss !== null && endpoints.some((e) => now - e.joinedAt < ss.windowMs);
}

/** Envoy's locality-weighted LB: smooth weighted round robin over localities, then the policy within one. */
function localityWeighted(usable: readonly Endpoint[], all: readonly Endpoint[], sub: (eps: readonly Endpoint[]) => Picker): Picker {
  const groups = new Map<string, Endpoint[]>();
  for (const e of usable) {
    const k = localityKey(e);
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  const totals = new Map<string, number>();
  for (const e of all) totals.set(localityKey(e), (totals.get(localityKey(e)) ?? 0) + 1);
  const pickers: Picker[] = [];
  const weights: number[] = [];
  for (const [k, eps] of groups) {
    const availability = Math.min(1, (OVERPROVISIONING * eps.length) / (totals.get(k) ?? eps.length));
    const w = eps[0].localityWeight * availability;
    if (w <= 0) continue;
    pickers.push(sub(eps));
    weights.push(w);
  }
  if (pickers.length === 0) return EMPTY;
  if (pickers.length === 1) return pickers[0];
  const sum = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  return {
    pick(hash?: number): Endpoint | null {
      let bi = 0;
      for (let i = 0; i < weights.length; i++) {
        current[i] += weights[i];
        if (current[i] > current[bi]) bi = i;
      }
      current[bi] -= sum;
      return pickers[bi].pick(hash);
    },
  };
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

/** Weighted round robin: a smooth-WRR schedule precomputed once (weights made integral, reduced by their gcd). */
function roundRobin(endpoints: readonly Endpoint[], _p: ClusterPolicy, effective: readonly number[]): Picker {
  // Slow start makes weights fractional: keep two decimals of precision.
  const integral = effective.every((w) => Number.isInteger(w));
  let weights = integral ? [...effective] : effective.map((w) => Math.max(1, Math.round(w * 100)));
  const g = weights.reduce((acc, w) => gcd(acc, w), 0) || 1;
  weights = weights.map((w) => w / g);
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
function random(endpoints: readonly Endpoint[], _p: ClusterPolicy, weights: readonly number[]): Picker {
  if (endpoints.length === 1) return { pick: () => endpoints[0] };
  const cum: number[] = [];
  let total = 0;
  for (const w of weights) cum.push((total += w));
  return {
    pick(): Endpoint {
      const r = Math.random() * total;
      for (let i = 0; i < cum.length; i++) if (r < cum[i]) return endpoints[i];
      return endpoints[endpoints.length - 1];
    },
  };
}

/**
 * Least request. Equal weights: power of two choices on requests in flight (Envoy's default
 * choice_count 2). Unequal weights (e.g. during slow start): Envoy's weighted mode, each host
 * weighing weight / (active + 1) (active_request_bias 1.0), drawn at random in proportion.
 */
function leastRequest(endpoints: readonly Endpoint[], _p: ClusterPolicy, weights: readonly number[]): Picker {
  const n = endpoints.length;
  if (n === 1) return { pick: () => endpoints[0] };
  if (weights.some((w) => w !== weights[0])) {
    return {
      pick(): Endpoint {
        let total = 0;
        for (let i = 0; i < n; i++) total += weights[i] / (endpoints[i].active + 1);
        let r = Math.random() * total;
        for (let i = 0; i < n; i++) {
          r -= weights[i] / (endpoints[i].active + 1);
          if (r < 0) return endpoints[i];
        }
        return endpoints[n - 1];
      },
    };
  }
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
