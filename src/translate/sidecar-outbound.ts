// A sidecar's outbound side for one scope (namespace + Sidecar): a listener per outbound port and
// a route config per HTTP port. After a change of VirtualServices' routes alone (the registry's
// routeChanges, from inheritClusterMemos), the previous snapshot's result is patched: only the
// virtual hosts of the changed VirtualServices are rebuilt, so a one-VirtualService change costs
// what it touches, not a pass over every service of every (scope, port). Equal to a build from
// scratch (test/translate/incremental-sequence.test.ts checks it after each change of a sequence).
import type { Resource, VirtualServiceSpec } from '../model/index.js';
import type { OutboundScope, Registry } from '../registry/index.js';
import type { ProxyInfo } from './proxy.js';
import type { Obj } from './envoy.js';
import { meshVsRoutes, sidecarRouteTable, vhostNeeds, type SidecarRouteTable } from './rds.js';
import { outboundPorts, outboundPortListener, type OutboundPort } from './lds.js';

export interface SidecarOutbound {
  readonly ports: readonly OutboundPort[];
  /** One per port, in port order. */
  readonly listeners: readonly Obj[];
  /** One per port, undefined for a TCP port. */
  readonly tables: readonly (SidecarRouteTable | undefined)[];
  /** Route configs by name (shared by every proxy of the scope: never mutated). */
  readonly routes: Map<string, object>;
}

type Vs = Resource<VirtualServiceSpec>;

const needsOf = (t: SidecarRouteTable) => ({ fault: t.fault > 0, cors: t.cors > 0 });

function routeMap(tables: readonly (SidecarRouteTable | undefined)[]): Map<string, object> {
  const m = new Map<string, object>();
  for (const t of tables) if (t) m.set(String(t.rc.name), t.rc);
  return m;
}

function build(registry: Registry, proxy: ProxyInfo, scope: OutboundScope): SidecarOutbound {
  const ports = outboundPorts(scope);
  const tables = ports.map((p) => (p.http ? sidecarRouteTable(registry, proxy, scope, p.port) : undefined));
  const listeners = ports.map((p, i) => { const t = tables[i]; return outboundPortListener(registry, proxy, scope, p, t && needsOf(t)); });
  return { ports, listeners, tables, routes: routeMap(tables) };
}

/**
 * `t` with the virtual hosts of the changed VirtualServices rebuilt; `t` itself when it has none of
 * them; undefined when the change moves virtual hosts (a VirtualService that had none here, or
 * whose routes become empty): then the table is built again.
 */
function patchTable(registry: Registry, proxy: ProxyInfo, t: SidecarRouteTable, port: number, changes: ReadonlyMap<Vs, Vs>): SidecarRouteTable | undefined {
  let vhosts: Obj[] | undefined;
  let byVs: Map<Vs, readonly number[]> | undefined;
  let { fault, cors } = t;
  for (const [before, after] of changes) {
    if (t.unplaced.has(before)) return undefined;
    const at = t.byVs.get(before);
    if (!at) continue;
    const routes = meshVsRoutes(registry, proxy, after, port);
    if (routes.length === 0) return undefined;
    vhosts ??= [...(t.rc.virtual_hosts as Obj[])];
    byVs ??= new Map(t.byVs);
    byVs.delete(before);
    byVs.set(after, at);
    for (const i of at) {
      const old = vhosts[i];
      const vh = { name: old.name, domains: old.domains, routes };
      const was = vhostNeeds(old);
      const now = vhostNeeds(vh);
      fault += Number(now.fault) - Number(was.fault);
      cors += Number(now.cors) - Number(was.cors);
      vhosts[i] = vh;
    }
  }
  if (!vhosts || !byVs) return t;
  return { rc: { ...t.rc, virtual_hosts: vhosts }, byVs, unplaced: t.unplaced, fault, cors };
}

/** `prev` (the previous snapshot's result for this scope) after `changes`; `prev` itself when untouched. */
function patch(registry: Registry, proxy: ProxyInfo, scope: OutboundScope, prev: SidecarOutbound, changes: ReadonlyMap<Vs, Vs>): SidecarOutbound {
  let listeners: Obj[] | undefined;
  let tables: (SidecarRouteTable | undefined)[] | undefined;
  prev.ports.forEach((p, i) => {
    const t = prev.tables[i];
    if (!t) return; // TCP: changes of HTTP routes alone do not reach it
    const next = patchTable(registry, proxy, t, p.port, changes) ?? sidecarRouteTable(registry, proxy, scope, p.port);
    if (next === t) return;
    tables ??= [...prev.tables];
    tables[i] = next;
    const was = needsOf(t);
    const now = needsOf(next);
    if (was.fault === now.fault && was.cors === now.cors) return;
    // The listeners array stays the same object unless a listener changed (see listenersMap).
    listeners ??= [...prev.listeners];
    listeners[i] = outboundPortListener(registry, proxy, scope, p, now);
  });
  if (!tables) return prev;
  return { ports: prev.ports, listeners: listeners ?? prev.listeners, tables, routes: routeMap(tables) };
}

/**
 * The outbound listeners and route configs of a scope, memoized per (scope, labelsKey): labels
 * matter only when some VirtualService matches on sourceLabels (then there are no routeChanges).
 */
export function sidecarOutbound(registry: Registry, proxy: ProxyInfo, scope: OutboundScope, labelsKey: string): SidecarOutbound {
  const key = `sidecar-outbound|${scope.key}|${labelsKey}`;
  return registry.memo(key, () => {
    const rc = registry.routeChanges;
    const prev = rc?.from.memoized<SidecarOutbound>(key);
    return rc && prev ? patch(registry, proxy, scope, prev, rc.vs) : build(registry, proxy, scope);
  });
}
