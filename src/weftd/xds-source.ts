// Connects translation to the xDS server: per proxy, per snapshot version, resources by type.
import { TYPE } from '../xds/protos.js';
import type { NodeInfo, ResourceSource } from '../xds/types.js';
import type { ConfigSnapshot } from '../registry/snapshot.js';
import { translate, translateForGrpc, type XdsResources } from '../translate/index.js';
import type { Workload } from '../model/index.js';
import { identifyProxy, type ProxyIdentity } from './proxies.js';

/** Serves the current snapshot; translation results are memoised per (snapshot version, node). */
export class SnapshotSource implements ResourceSource {
  private snapshot: ConfigSnapshot;
  private cache = new Map<string, XdsResources>();
  /**
   * Identical result maps are handed out as the same Map instance, because the xDS server encodes
   * a Map once however many proxies receive it. Keyed by names + object identities, per snapshot.
   */
  private interned = new Map<string, ReadonlyMap<string, object>>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  constructor(initial: ConfigSnapshot, private readonly lookup: (ns: string, name: string) => Workload | undefined) {
    this.snapshot = initial;
  }

  current(): ConfigSnapshot {
    return this.snapshot;
  }

  setSnapshot(s: ConfigSnapshot): void {
    this.snapshot = s;
    this.cache = new Map(); // results of older versions are never asked for again
    this.interned = new Map();
  }

  private intern(typeUrl: string, map: ReadonlyMap<string, object>): ReadonlyMap<string, object> {
    let key = typeUrl;
    for (const [name, obj] of map) {
      let id = this.ids.get(obj);
      if (id === undefined) this.ids.set(obj, (id = this.nextId++));
      key += `\n${name}\t${id}`;
    }
    const hit = this.interned.get(key);
    if (hit) return hit;
    this.interned.set(key, map);
    return map;
  }

  proxyOf(node: NodeInfo): ProxyIdentity {
    return identifyProxy(node, this.lookup);
  }

  resources(node: NodeInfo, typeUrl: string, names: readonly string[] | '*'): ReadonlyMap<string, object> {
    const proxy = this.proxyOf(node);
    if (proxy.kind === 'grpc') {
      if (names === '*') return new Map(); // gRPC clients always name what they want
      return translateForGrpc(this.snapshot, proxy, typeUrl, names);
    }
    let all = this.cache.get(node.id);
    if (!all) {
      all = translate(this.snapshot, proxy);
      this.cache.set(node.id, all);
    }
    const byType: Record<string, Map<string, object>> = {
      [TYPE.listener]: all.listeners, [TYPE.route]: all.routes, [TYPE.cluster]: all.clusters, [TYPE.endpoint]: all.endpoints,
    };
    const map = byType[typeUrl] ?? new Map<string, object>();
    if (names === '*') return this.intern(typeUrl, map);
    const out = new Map<string, object>();
    for (const n of names) {
      const r = map.get(n);
      if (r) out.set(n, r);
    }
    return this.intern(typeUrl, out);
  }
}
