// Loads the Envoy v3 API protos shipped in @grpc/grpc-js-xds (deps/) and packs/unpacks xDS resources.
//
// Resources inside Weft are plain objects with Envoy's proto field names (snake_case), enums as
// names, Durations as {seconds, nanos}, and Any as { '@type': url, ...fields }.
// Only the types of the files listed in PROTO_FILES (and what they reference) are known, from a
// descriptor generated at build time (src/xds/proto-descriptor.ts), and a type is loaded with what
// it references when first used (src/xds/proto-root.ts): a proxy pays for no proto it never uses.
import protobuf from 'protobufjs';
import { ENVOY_DESCRIPTOR } from './envoy-descriptor.generated.js';
import { loadProtoFiles, type EnvoyDescriptor } from './proto-descriptor.js';
import { lazyRootFromDescriptor, type LazyRoot } from './proto-root.js';

/** Type URLs of the resources the ADS server serves. */
export const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];

/** Make-before-break push order (CDS, EDS, LDS, RDS, then SDS secrets first of all). */
export const PUSH_ORDER: readonly string[] = [TYPE.secret, TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route];

export const PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/lua/v3/lua.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
];

let rootCache: LazyRoot | undefined;

function lazyRoot(): LazyRoot {
  rootCache ??= rootFromDescriptor() ?? { root: loadProtoFiles(PROTO_FILES), ensure: () => {}, ensureAll: () => {} };
  return rootCache;
}

/** The protobufjs Root holding every Envoy type Weft uses (all loaded); built once per process. */
export function envoyRoot(): protobuf.Root {
  const r = lazyRoot();
  r.ensureAll();
  return r.root;
}

/** The Root from the generated descriptor, filled on demand; undefined when PROTO_FILES changed since it was generated. */
function rootFromDescriptor(): LazyRoot | undefined {
  const d = JSON.parse(ENVOY_DESCRIPTOR) as EnvoyDescriptor;
  if (d.protoFiles.join('\n') !== PROTO_FILES.join('\n')) {
    process.emitWarning('src/xds/envoy-descriptor.generated.ts does not match PROTO_FILES: parsing the .proto files instead (slow); run npm run gen:protos');
    return undefined;
  }
  return lazyRootFromDescriptor(d);
}

const typeCache = new Map<string, protobuf.Type>();

/** The message type of a full name; cached, because Root.lookupType walks the namespace tree every time. */
export function messageType(fullName: string): protobuf.Type {
  let t = typeCache.get(fullName);
  if (!t) {
    const r = lazyRoot();
    r.ensure(fullName);
    t = r.root.lookupType(fullName);
    typeCache.set(fullName, t);
  }
  return t;
}

export function typeNameOfUrl(url: string): string {
  const i = url.lastIndexOf('/');
  return i >= 0 ? url.slice(i + 1) : url;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, oneofs: false, json: true, arrays: true };

/** Encodes a plain object as a message of the given full name; throws with the field when it cannot. */
export function encodeMessage(fullName: string, obj: unknown): Uint8Array {
  const t = messageType(fullName);
  const err = t.verify(obj as Record<string, unknown>);
  // verify() rejects '@type' Any objects, so only trust it when no Any is involved; fromObject does the real work.
  const msg = t.fromObject(obj as Record<string, unknown>);
  const bytes = t.encode(msg).finish();
  if (bytes.length === 0 && obj && Object.keys(obj).length > 0 && err) throw new Error(`cannot encode ${fullName}: ${err}`);
  return bytes;
}

export function decodeMessage<T = Record<string, unknown>>(fullName: string, bytes: Uint8Array): T {
  const t = messageType(fullName);
  return t.toObject(t.decode(bytes), TO_OBJECT) as T;
}

export interface AnyMessage { type_url: string; value: Uint8Array }

/** Packs a resource into google.protobuf.Any. Any nested '@type' must name a loaded type. */
export function packAny(typeUrl: string, obj: unknown): AnyMessage {
  assertAnyTypesLoaded(obj);
  return { type_url: typeUrl, value: encodeMessage(typeNameOfUrl(typeUrl), obj) };
}

export function unpackAny<T = Record<string, unknown>>(any: AnyMessage): T {
  return decodeMessage<T>(typeNameOfUrl(any.type_url), any.value);
}

/** protobufjs silently packs an unknown '@type' as an empty Any; refuse that instead. */
function assertAnyTypesLoaded(obj: unknown, path = ''): void {
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => assertAnyTypesLoaded(v, `${path}[${i}]`));
    return;
  }
  if (!obj || typeof obj !== 'object' || obj instanceof Uint8Array) return;
  const rec = obj as Record<string, unknown>;
  const t = rec['@type'];
  if (typeof t === 'string') {
    try {
      messageType(typeNameOfUrl(t));
    } catch {
      throw new Error(`${path || '(root)'}: type ${t} is not loaded (add its .proto to PROTO_FILES)`);
    }
  }
  for (const [k, v] of Object.entries(rec)) assertAnyTypesLoaded(v, path ? `${path}.${k}` : k);
}

// ---- google.protobuf.Struct: protobufjs uses camelCase names (stringValue, ...) even with keepCase.

type StructValue = { nullValue?: 0 | 'NULL_VALUE'; numberValue?: number; stringValue?: string; boolValue?: boolean;
  structValue?: { fields?: Record<string, StructValue> }; listValue?: { values?: StructValue[] } };

export function toStruct(obj: Record<string, unknown>): { fields: Record<string, StructValue> } {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): StructValue {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

export function fromStruct(s: { fields?: Record<string, StructValue> } | undefined | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

function fromValue(v: StructValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue !== undefined) return fromStruct(v.structValue);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(fromValue);
  return null;
}

// ---- Durations

export interface ProtoDuration { seconds: string | number; nanos?: number }

/** Parses Istio/protobuf duration strings ("1.5s", "500ms", "1m", "1h", "2h45m") into milliseconds. */
export function parseDurationMs(s: string): number | undefined {
  if (!/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(s)) return undefined;
  const units: Record<string, number> = { h: 3600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}

export function msToDuration(ms: number): ProtoDuration {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function durationToMs(d: ProtoDuration | undefined | null): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6;
}
