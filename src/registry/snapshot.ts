// An immutable view of everything translation needs: validated resources, live workloads and mesh
// settings. Built once per config change; every per-proxy computation reads it and never mutates it.
import type { ExtensionProvider, LocalityLoadBalancerSetting, Resource, Workload } from '../model/index.js';

export interface MeshConfig {
  /** Config in this namespace applies mesh-wide (e.g. DestinationRules of last resort). */
  rootNamespace: string;
  trustDomain: string;
  /** Suffix of service FQDNs: `name.namespace.<domainSuffix>`. */
  domainSuffix: string;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Gateway server port -> host port the gateway binds (no root needed). Unlisted ports < 1024 get +8000. */
  gatewayPortMap: Record<number, number>;
  /** Istio's meshConfig.extensionProviders (AuthorizationPolicy CUSTOM); `weft up --mesh-config FILE`. */
  extensionProviders?: readonly ExtensionProvider[];
  /** Istio's meshConfig.trustDomainAliases: peers and policies of these trust domains count as ours. */
  trustDomainAliases?: readonly string[];
  /** Istio's meshConfig.localityLbSetting: for every cluster whose DestinationRule sets none. */
  localityLbSetting?: LocalityLoadBalancerSetting;
}

export const DEFAULT_MESH_CONFIG: Readonly<MeshConfig> = Object.freeze({
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  domainSuffix: 'svc.cluster.local',
  outboundTrafficPolicy: 'ALLOW_ANY',
  gatewayPortMap: Object.freeze({ 80: 8080, 443: 8443 }),
});

export interface ConfigSnapshot {
  readonly version: string;
  /** Sorted by kind, creationTimestamp, namespace, name: Istio's precedence order for conflicts. */
  readonly resources: readonly Resource[];
  readonly workloads: readonly Workload[];
  readonly mesh: MeshConfig;
  /** Resources by kind, in the same order as `resources`. */
  readonly byKind: ReadonlyMap<string, readonly Resource[]>;
}

/** The host port a gateway binds for a Gateway server port. */
export function gatewayHostPort(mesh: MeshConfig, port: number): number {
  const mapped = mesh.gatewayPortMap[port];
  if (mapped !== undefined) return mapped;
  return port < 1024 ? port + 8000 : port;
}

/** Resources of one kind in precedence order (empty when none). */
export function resourcesOfKind<S = unknown>(snapshot: ConfigSnapshot, kind: string): readonly Resource<S>[] {
  return (snapshot.byKind.get(kind) ?? []) as readonly Resource<S>[];
}

/** Sorts in precedence order (creationTimestamp, then `namespace/name`), each key built once. */
function sortResources(list: Resource[]): void {
  const keyed = list.map((r) => ({ r, t: r.metadata.creationTimestamp ?? '', n: `${r.metadata.namespace ?? ''}/${r.metadata.name}` }));
  keyed.sort((a, b) => (a.t !== b.t ? (a.t < b.t ? -1 : 1) : a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  for (let i = 0; i < keyed.length; i++) list[i] = keyed[i].r;
}

/** Whether `list` holds exactly the objects of `old` (in any order). */
function sameMembers(old: readonly Resource[], list: readonly Resource[]): boolean {
  if (old.length !== list.length) return false;
  const left = new Set(old);
  for (const r of list) if (!left.delete(r)) return false;
  return left.size === 0;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  }
  return v;
}

/**
 * Copies and deep-freezes its inputs (the caller may keep mutating its own objects) and builds the
 * per-kind index once. Resources must be validated and have `metadata.namespace` set. A frozen
 * resource or workload is taken as it is, uncopied (it must be deeply frozen, as a snapshot's own
 * are): that is how a rebuild reuses the unchanged objects of the previous snapshot. `previous`
 * (optional, e.g. the snapshot being replaced): kinds whose objects are all its own keep its lists.
 */
export function createSnapshot(version: string, resources: readonly Resource[], workloads: readonly Workload[],
  mesh?: Partial<MeshConfig>, previous?: ConfigSnapshot): ConfigSnapshot {
  const copied = resources.map((r) => (Object.isFrozen(r) ? r : structuredClone(r)));
  for (const r of copied) {
    if (!r.metadata?.namespace && r.kind !== 'Namespace') {
      throw new Error(`createSnapshot: ${r.kind}/${r.metadata?.name ?? '?'} has no metadata.namespace`);
    }
  }
  const byKind = new Map<string, Resource[]>();
  for (const r of copied) {
    let list = byKind.get(r.kind);
    if (!list) byKind.set(r.kind, (list = []));
    list.push(r);
  }
  for (const [kind, list] of byKind) {
    // A kind whose objects are all the previous snapshot's keeps its sorted (frozen) list.
    const old = previous?.byKind.get(kind);
    if (old && sameMembers(old, list)) byKind.set(kind, old as Resource[]);
    else sortResources(list);
  }
  const sorted = [...byKind.keys()].sort().flatMap((k) => byKind.get(k) ?? []);
  const meshConfig: MeshConfig = {
    ...DEFAULT_MESH_CONFIG,
    ...mesh,
    gatewayPortMap: { ...(mesh?.gatewayPortMap ?? DEFAULT_MESH_CONFIG.gatewayPortMap) },
  };
  const snap: ConfigSnapshot = {
    version,
    resources: sorted,
    workloads: workloads.map((w) => (Object.isFrozen(w) ? w : structuredClone(w))),
    mesh: meshConfig,
    byKind,
  };
  deepFreeze(snap.resources);
  deepFreeze(snap.workloads);
  deepFreeze(snap.mesh);
  for (const list of byKind.values()) Object.freeze(list);
  return Object.freeze(snap);
}

/**
 * Hands the previous build's frozen objects back for inputs that did not change, so a rebuild
 * copies and freezes only what changed and unchanged resources keep their identity (what
 * identity-keyed caches downstream rely on). Resources are matched by kind/namespace/name, uid and
 * resourceVersion (a store changes the resourceVersion with the content), else by content, as are
 * workloads; a frozen input (the store's) is taken as it is. Keeps one build's worth of objects.
 */
export class SnapshotInputCache {
  private resources = new Map<string, Resource>();
  private workloads = new Map<string, Workload>();

  private static reuse<T extends object>(items: readonly T[], prev: Map<string, T>, keyOf: (x: T) => string): { out: T[]; next: Map<string, T> } {
    const next = new Map<string, T>();
    const out = items.map((x) => {
      // Already frozen (the store's resources are, deeply, and keep their identity while unchanged): as it is.
      if (Object.isFrozen(x)) return x;
      const key = keyOf(x);
      const hit = prev.get(key) ?? next.get(key);
      const v = hit ?? deepFreeze(structuredClone(x));
      next.set(key, v);
      return v;
    });
    return { out, next };
  }

  resourcesOf(items: readonly Resource[]): Resource[] {
    const { out, next } = SnapshotInputCache.reuse(items, this.resources, (r) => {
      const m = r.metadata;
      return m?.resourceVersion && m.uid ? `${r.kind}/${m.namespace ?? ''}/${m.name}@${m.uid}@${m.resourceVersion}` : JSON.stringify(r);
    });
    this.resources = next;
    return out;
  }

  workloadsOf(items: readonly Workload[]): Workload[] {
    const { out, next } = SnapshotInputCache.reuse(items, this.workloads, (w) => JSON.stringify(w));
    this.workloads = next;
    return out;
  }
}
