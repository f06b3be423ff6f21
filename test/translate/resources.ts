// Helpers shared by translation tests: resources of a case, golden JSON, and an encode round-trip
// that catches misspelt fields (protobufjs' fromObject drops unknown fields silently).
import { TYPE, packAny, unpackAny } from '../../src/xds/protos.js';
import { translate, translateForGrpc, type XdsResources } from '../../src/translate/index.js';
import type { TestCase } from './harness.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walks untyped Envoy JSON
type Obj = Record<string, any>;

/** A gRPC client's view: LDS for the dialed names, then RDS, CDS and EDS for what they reference. */
export function grpcResources(tc: TestCase): XdsResources {
  const listeners = translateForGrpc(tc.snapshot, tc.proxy, TYPE.listener, tc.grpc?.listeners ?? []);
  const rdsNames = [...listeners.values()].map((l) => (l as Obj).api_listener.api_listener.rds.route_config_name as string);
  const routes = translateForGrpc(tc.snapshot, tc.proxy, TYPE.route, rdsNames);
  const clusterNames = new Set<string>();
  for (const rc of routes.values()) {
    for (const vh of (rc as Obj).virtual_hosts) {
      for (const r of vh.routes) {
        if (r.route.cluster) clusterNames.add(r.route.cluster);
        for (const wc of r.route.weighted_clusters?.clusters ?? []) clusterNames.add(wc.name);
      }
    }
  }
  const clusters = translateForGrpc(tc.snapshot, tc.proxy, TYPE.cluster, [...clusterNames]);
  const edsNames = [...clusters.values()].map((c) => (c as Obj).eds_cluster_config?.service_name as string).filter(Boolean);
  const endpoints = translateForGrpc(tc.snapshot, tc.proxy, TYPE.endpoint, edsNames);
  return { listeners, routes, clusters, endpoints };
}

export function caseResources(tc: TestCase): XdsResources {
  return tc.proxy.kind === 'grpc' ? grpcResources(tc) : translate(tc.snapshot, tc.proxy);
}

function sortedObject(m: Map<string, object>): Record<string, object> {
  return Object.fromEntries([...m.keys()].sort().map((k) => [k, m.get(k) as object]));
}

export function goldenJson(r: XdsResources): string {
  return `${JSON.stringify({ listeners: sortedObject(r.listeners), routes: sortedObject(r.routes), clusters: sortedObject(r.clusters), endpoints: sortedObject(r.endpoints) }, null, 2)}\n`;
}

/** Enum names that are the proto default (value 0): decoding leaves them out. */
const ZERO_ENUMS = new Set(['ROUND_ROBIN', 'STATIC', 'MOVED_PERMANENTLY', 'APPEND_IF_EXISTS_OR_ADD', 'HUNDRED', 'AUTO', 'UNSPECIFIED', 'UNKNOWN']);

/** Drops proto3 default values so an object and its decoded form compare equal. */
export function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v as Obj).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      const n = normalize(x);
      if (n === undefined || n === false || n === 0 || n === '' || n === '0' || (typeof n === 'string' && ZERO_ENUMS.has(n))) continue;
      if (Array.isArray(n) && n.length === 0) continue;
      if (n && typeof n === 'object' && !Array.isArray(n) && Object.keys(n).length === 0 && k !== 'ads' && k !== 'locality'
        && !k.endsWith('_protocol_options')) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
}

export const TYPE_OF: Record<keyof XdsResources, string> = {
  listeners: TYPE.listener, routes: TYPE.route, clusters: TYPE.cluster, endpoints: TYPE.endpoint, secrets: TYPE.secret,
};

/** Packs every resource and decodes it back; returns the names whose decoded form differs. */
export function roundTripMismatches(r: XdsResources): { name: string; sent: unknown; got: unknown }[] {
  const bad: { name: string; sent: unknown; got: unknown }[] = [];
  for (const kind of Object.keys(TYPE_OF) as (keyof XdsResources)[]) {
    for (const [name, obj] of r[kind] ?? new Map<string, object>()) {
      const back = unpackAny(packAny(TYPE_OF[kind], obj));
      const sent = normalize(obj);
      const got = normalize(back);
      if (JSON.stringify(sent) !== JSON.stringify(got)) bad.push({ name: `${kind}/${name}`, sent, got });
    }
  }
  return bad;
}
