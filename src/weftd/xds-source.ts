// Connects translation to the xDS server: per proxy, per snapshot version, resources by type.
import { TYPE } from '../xds/protos.js';
import { encodeResource, VIRTUAL_HOST_URL } from '../xds/codec.js';
import type { NodeInfo, ResourceSource, XdsPeer } from '../xds/types.js';
import type { ConfigSnapshot } from '../registry/snapshot.js';
import { translateShared, translateForGrpc, translationWarnings, type XdsResources } from '../translate/index.js';
import type { Workload } from '../model/index.js';
import { identifyProxy, wantsVhds, type ProxyIdentity } from './proxies.js';
import { secretsRefusal } from './xds-auth.js';

/**
 * Keeps resources and Maps identical across snapshot versions when their content is: a resource
 * equal (as JSON) to one served before is replaced by that earlier object, and a Map with the same
 * names and objects as an earlier one by that Map. The xDS server caches encodings by identity and
 * skips a type whose Map it already sent, so an unchanged resource is neither re-encoded nor
 * re-hashed after a config change, and an unchanged type costs nothing per proxy.
 * Two generations (the current snapshot's and the previous one's) bound the memory.
 */
class ContentInterner {
  private objects = new Map<string, object>();
  private oldObjects = new Map<string, object>();
  private maps = new Map<string, ReadonlyMap<string, object>>();
  private oldMaps = new Map<string, ReadonlyMap<string, object>>();
  /** Source object or Map -> its canonical one (valid across generations: content never changes). */
  private canonical = new WeakMap<object, object>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  /** Starts a generation: what the previous one did not use is forgotten. */
  nextGeneration(): void {
    this.oldObjects = this.objects;
    this.objects = new Map();
    this.oldMaps = this.maps;
    this.maps = new Map();
  }

  private lookup<T>(cur: Map<string, T>, old: Map<string, T>, key: string): T | undefined {
    let v = cur.get(key);
    if (v === undefined) {
      v = old.get(key);
      if (v !== undefined) cur.set(key, v);
    }
    return v;
  }

  object(typeUrl: string, obj: object): object {
    const hit = this.canonical.get(obj);
    if (hit) return hit;
    let key: string;
    try {
      // A route config (a virtual host per service) is keyed by its encoding, which the xDS
      // server reuses and which is built from cached virtual hosts: cheaper than its JSON.
      key = typeUrl === TYPE.route ? `${typeUrl}\n#${encodeResource(typeUrl, obj).hash}` : `${typeUrl}\n${JSON.stringify(obj)}`;
    } catch {
      return obj; // not JSON-able (e.g. a BigInt): served as it is
    }
    let c = this.lookup(this.objects, this.oldObjects, key);
    if (!c) this.objects.set(key, (c = obj));
    this.canonical.set(obj, c);
    return c;
  }

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  map(typeUrl: string, map: ReadonlyMap<string, object>): ReadonlyMap<string, object> {
    const hit = this.canonical.get(map) as ReadonlyMap<string, object> | undefined;
    if (hit) return hit;
    const out = new Map<string, object>();
    let key = typeUrl;
    for (const [name, obj] of map) {
      const c = this.object(typeUrl, obj);
      out.set(name, c);
      key += `\n${name}\t${this.id(c)}`;
    }
    let c = this.lookup(this.maps, this.oldMaps, key);
    if (!c) this.maps.set(key, (c = out));
    this.canonical.set(map, c);
    return c;
  }
}

type Obj = Record<string, unknown>;
const VHDS_CONFIG = { config_source: { ads: {}, resource_api_version: 'V3' } };
/** Route config -> the same without virtual hosts, with vhds (by identity: an unchanged one is the same object). */
const vhdsRouteConfigs = new WeakMap<object, object>();
/** Virtual host -> its VHDS resource per route config name (named `<route config>/<host>`). */
const vhdsHosts = new WeakMap<object, Map<string, object>>();

function vhdsRouteConfig(rc: object): object {
  let out = vhdsRouteConfigs.get(rc);
  if (!out) {
    const { virtual_hosts: _hosts, ...rest } = rc as Obj;
    vhdsRouteConfigs.set(rc, (out = { ...rest, vhds: VHDS_CONFIG }));
  }
  return out;
}

function vhdsHost(rcName: string, vh: Obj): object {
  let byRc = vhdsHosts.get(vh);
  if (!byRc) vhdsHosts.set(vh, (byRc = new Map()));
  let out = byRc.get(rcName);
  if (!out) byRc.set(rcName, (out = { ...vh, name: `${rcName}/${String(vh.name)}` }));
  return out;
}

/** Serves the current snapshot; translation results are memoised per (snapshot version, node). */
export class SnapshotSource implements ResourceSource {
  private snapshot: ConfigSnapshot;
  private cache = new Map<string, XdsResources>();
  private readonly interner = new ContentInterner();
  private readonly byNames = new WeakMap<readonly string[], { from: ReadonlyMap<string, object>; out: ReadonlyMap<string, object> }>();
  /** VHDS Maps derived from a (shared, interned) route config Map: alike proxies get the same ones. */
  private readonly vhdsRoutes = new WeakMap<ReadonlyMap<string, object>, ReadonlyMap<string, object>>();
  private readonly vhdsHostMaps = new WeakMap<ReadonlyMap<string, object>, Map<string, ReadonlyMap<string, object>>>();

  /** Translation warnings already logged (each once while it persists). */
  private warned = new Set<string>();
  /** Streams refused secrets, by node id and reason (logged once each). */
  private secretsRefused = new Set<string>();

  /** `plaintextXds`: the xDS port has no TLS, so no stream can prove an identity and no secret is served. */
  constructor(initial: ConfigSnapshot, private readonly lookup: (ns: string, name: string) => Workload | undefined,
    private readonly log: (line: string) => void = () => {}, private readonly plaintextXds = false) {
    this.snapshot = initial;
  }

  current(): ConfigSnapshot {
    return this.snapshot;
  }

  setSnapshot(s: ConfigSnapshot): void {
    this.snapshot = s;
    this.cache = new Map(); // results of older versions are never asked for again
    this.interner.nextGeneration();
  }

  private logSecretsRefusal(nodeId: string, line: string): void {
    const key = `${nodeId}\n${line}`;
    if (this.secretsRefused.has(key)) return;
    if (this.secretsRefused.size > 1000) this.secretsRefused.clear();
    this.secretsRefused.add(key);
    this.log(line);
  }

  proxyOf(node: NodeInfo): ProxyIdentity {
    return identifyProxy(node, this.lookup);
  }

  resources(node: NodeInfo, typeUrl: string, names: readonly string[] | '*', peer?: XdsPeer): ReadonlyMap<string, object> {
    const proxy = this.proxyOf(node);
    if (proxy.kind === 'grpc') {
      if (names === '*') return new Map(); // gRPC clients always name what they want
      return translateForGrpc(this.snapshot, proxy, typeUrl, names);
    }
    let all = this.cache.get(node.id);
    if (!all) {
      all = translateShared(this.snapshot, proxy);
      for (const w of translationWarnings(all)) {
        const key = `${proxy.namespace}/${proxy.name}: ${w}`;
        if (!this.warned.has(key)) this.log(`proxy ${key}`);
        this.warned.add(key);
      }
      this.cache.set(node.id, all);
    }
    const byType: Record<string, ReadonlyMap<string, object>> = {
      [TYPE.listener]: all.listeners, [TYPE.route]: all.routes, [TYPE.cluster]: all.clusters, [TYPE.endpoint]: all.endpoints,
    };
    // Gateway credentials: only registered gateway proxies whose stream proved the gateway's identity
    // by certificate, only the secrets their own Gateways reference.
    if (typeUrl === TYPE.secret && all.secrets) {
      const refusal = secretsRefusal(proxy, peer, this.plaintextXds);
      if (refusal === undefined) byType[TYPE.secret] = all.secrets;
      else if (names === '*' || names.length > 0) this.logSecretsRefusal(node.id, `proxy ${proxy.namespace}/${proxy.name}: no secrets served to node "${node.id}" (${peer?.address ?? '?'}): ${refusal}`);
    }
    const vhds = wantsVhds(node.metadata);
    if (vhds && typeUrl === VIRTUAL_HOST_URL) return this.virtualHosts(this.interner.map(TYPE.route, all.routes), names);
    let map = this.interner.map(typeUrl, byType[typeUrl] ?? new Map<string, object>());
    if (vhds && typeUrl === TYPE.route) map = this.vhdsRouteConfigs(map);
    if (names === '*') return map;
    // The server hands the same names array while the subscription is unchanged: thousands of EDS
    // names are not looked up again for every push.
    const last = this.byNames.get(names);
    if (last?.from === map) return last.out;
    // A subscription naming exactly what there is (the usual case for RDS/EDS) gets the shared Map.
    let out: ReadonlyMap<string, object> = map;
    if (names.length !== map.size || !names.every((n) => map.has(n))) {
      const some = new Map<string, object>();
      for (const n of names) {
        const r = map.get(n);
        if (r) some.set(n, r);
      }
      out = this.interner.map(typeUrl, some);
    }
    this.byNames.set(names, { from: map, out });
    return out;
  }

  private vhdsRouteConfigs(routes: ReadonlyMap<string, object>): ReadonlyMap<string, object> {
    let out = this.vhdsRoutes.get(routes);
    if (!out) {
      const m = new Map<string, object>();
      for (const [name, rc] of routes) m.set(name, vhdsRouteConfig(rc));
      this.vhdsRoutes.set(routes, (out = this.interner.map(TYPE.route, m)));
    }
    return out;
  }

  /** The VHDS resources of the route configs `names` (namespaces; '*': all), in route config order. */
  private virtualHosts(routes: ReadonlyMap<string, object>, names: readonly string[] | '*'): ReadonlyMap<string, object> {
    const key = names === '*' ? '*' : names.join('\n');
    let byKey = this.vhdsHostMaps.get(routes);
    if (!byKey) this.vhdsHostMaps.set(routes, (byKey = new Map()));
    let out = byKey.get(key);
    if (!out) {
      const m = new Map<string, object>();
      for (const rcName of names === '*' ? routes.keys() : names) {
        const hosts = (routes.get(rcName) as Obj | undefined)?.virtual_hosts;
        if (!Array.isArray(hosts)) continue;
        for (const vh of hosts as Obj[]) m.set(`${rcName}/${String(vh.name)}`, vhdsHost(rcName, vh));
      }
      if (byKey.size > 16) byKey.clear();
      byKey.set(key, (out = m));
    }
    return out;
  }
}
