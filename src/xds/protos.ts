// Loads the Envoy v3 API protos shipped in @grpc/grpc-js-xds (deps/) and packs/unpacks xDS resources.
//
// Resources inside Weft are plain objects with Envoy's proto field names (snake_case), enums as
// names, Durations as {seconds, nanos}, and Any as { '@type': url, ...fields }.
// Only the types of the files listed in PROTO_FILES (and what they reference) are loaded, from a
// descriptor generated at build time (src/xds/proto-descriptor.ts): a proxy pays for no proto it never uses.
import protobuf from 'protobufjs';
import { ENVOY_DESCRIPTOR } from './envoy-descriptor.generated.js';
import { loadProtoFiles, type EnvoyDescriptor } from './proto-descriptor.js';

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

let rootCache: protobuf.Root | undefined;

/** The protobufjs Root holding every Envoy type Weft uses; loaded once per process. */
export function envoyRoot(): protobuf.Root {
  rootCache ??= rootFromDescriptor() ?? loadProtoFiles(PROTO_FILES);
  return rootCache;
}

/** The Root from the generated descriptor; undefined when PROTO_FILES changed since it was generated. */
function rootFromDescriptor(): protobuf.Root | undefined {
  const d = JSON.parse(ENVOY_DESCRIPTOR) as EnvoyDescriptor;
  if (d.protoFiles.join('\n') !== PROTO_FILES.join('\n')) {
    process.emitWarning('src/xds/envoy-descriptor.generated.ts does not match PROTO_FILES: parsing the .proto files instead (slow); run npm run gen:protos');
    return undefined;
  }
  const root = new protobuf.Root();
  root.addJSON(d.nested ?? {});
  // No resolveAll(): a type's fields resolve when it is first used (Type.setup), so a sidecar only
  // pays for the types its config contains. Editions features (packed, presence) are resolved here,
  // as resolveAll would, because encoders read them. A Root's own edition is proto2 by protobufjs' default.
  root._resolveFeaturesRecursive('proto2');
  forEachType(root, lazyCodecs);
  return root;
}

function forEachType(ns: protobuf.NamespaceBase, fn: (t: protobuf.Type) => void): void {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) fn(o);
    if (o instanceof protobuf.Namespace) forEachType(o, fn);
  }
}

type Codec = 'encode' | 'decode' | 'verify' | 'fromObject' | 'toObject';
type CodecFn = (...args: unknown[]) => unknown;

/**
 * protobufjs' Type.setup generates all five codecs of a type (encode, decode, verify, fromObject,
 * toObject) the first time any one is used; a sidecar only decodes and converts most types, so
 * the other three were ~60% of the code generation at start. Here each is generated when first
 * called, with the same generators and the same wrappers (google.protobuf.Any, Struct...).
 */
function lazyCodecs(t: protobuf.Type): void {
  const self = t as unknown as Record<Codec, CodecFn>;
  let types: (protobuf.Type | protobuf.Enum | null)[] | undefined;
  const resolved = (): (protobuf.Type | protobuf.Enum | null)[] => {
    types ??= t.fieldsArray.map((f) => f.resolve().resolvedType);
    return types;
  };
  const make: Record<Codec, () => CodecFn> = {
    encode: () => protobuf.encoder(t)({ Writer: protobuf.Writer, types: resolved(), util: protobuf.util }) as CodecFn,
    decode: () => protobuf.decoder(t)({ Reader: protobuf.Reader, types: resolved(), util: protobuf.util }) as CodecFn,
    verify: () => protobuf.verifier(t)({ types: resolved(), util: protobuf.util }) as CodecFn,
    fromObject: () => wrapped(t, 'fromObject', protobuf.converter.fromObject(t)({ types: resolved(), util: protobuf.util }) as CodecFn),
    toObject: () => wrapped(t, 'toObject', protobuf.converter.toObject(t)({ types: resolved(), util: protobuf.util }) as CodecFn),
  };
  // Type.prototype's stubs call this.setup() and then the method: install one stub per codec instead.
  // (protobufjs deletes encode/decode/verify when fields are added; the prototype stubs then land here again.)
  (t as unknown as { setup(): protobuf.Type }).setup = function setup(this: protobuf.Type) {
    for (const k of Object.keys(make) as Codec[]) {
      if (Object.prototype.hasOwnProperty.call(self, k)) continue;
      self[k] = function (this: unknown, ...args: unknown[]) {
        const fn = make[k]();
        self[k] = fn;
        return fn.apply(this, args);
      };
    }
    return this;
  };
}

/** As Type.setup does: a wrapper of google.protobuf.* (Any, Struct...) calls the generated converter through an object whose method it is. */
function wrapped(t: protobuf.Type, k: 'fromObject' | 'toObject', generated: CodecFn): CodecFn {
  const wrapper = (protobuf.wrappers as Record<string, protobuf.IWrapper | undefined>)[t.fullName];
  if (!wrapper) return generated;
  const originalThis = Object.create(t) as Record<string, unknown>;
  originalThis[k] = generated;
  return (wrapper[k] as CodecFn).bind(originalThis);
}

const typeCache = new Map<string, protobuf.Type>();

/** The message type of a full name; cached, because Root.lookupType walks the namespace tree every time. */
export function messageType(fullName: string): protobuf.Type {
  let t = typeCache.get(fullName);
  if (!t) {
    t = envoyRoot().lookupType(fullName);
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
      envoyRoot().lookupType(typeNameOfUrl(t));
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
