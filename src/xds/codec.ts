// Wire encoding of the ADS messages and the hand-written gRPC service definition.
// Resources travel as pre-encoded google.protobuf.Any, so a response is encoded without touching
// the resources' object form again.
import { createHash } from 'node:crypto';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { messageType, packAny, toStruct, fromStruct, TYPE, type AnyMessage } from './protos.js';
import type { NodeInfo } from './types.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const ADS_SOTW_PATH = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const ADS_DELTA_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;

/** google.rpc.Status as carried in DiscoveryRequest.error_detail. */
export interface RpcStatus { code: number; message: string }

export interface DiscoveryRequest {
  version_info: string;
  node?: Record<string, unknown>;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: RpcStatus;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
  control_plane?: { identifier: string };
  /** Internal: the whole message already encoded (a response shared by streams, see sharedResponse). */
  encoded?: Buffer;
}

const REQ = 'envoy.service.discovery.v3.DiscoveryRequest';
const RESP = 'envoy.service.discovery.v3.DiscoveryResponse';
const TO_OBJ = { longs: String, enums: String, defaults: false, arrays: true, json: true };

export function encodeRequest(req: DiscoveryRequest): Buffer {
  const t = messageType(REQ);
  return Buffer.from(t.encode(t.fromObject(req as unknown as Record<string, unknown>)).finish());
}

export function decodeRequest(buf: Buffer): DiscoveryRequest {
  const t = messageType(REQ);
  const o = t.toObject(t.decode(buf), TO_OBJ) as Partial<DiscoveryRequest> & { error_detail?: { code?: number; message?: string } };
  return {
    version_info: o.version_info ?? '',
    node: o.node,
    resource_names: o.resource_names ?? [],
    type_url: o.type_url ?? '',
    response_nonce: o.response_nonce ?? '',
    // error_detail is present iff the field was on the wire (NACK), even as an empty Status.
    error_detail: o.error_detail ? { code: o.error_detail.code ?? 0, message: o.error_detail.message ?? '' } : undefined,
  };
}

/** Encodes with the static encoder directly: Any values are already bytes. */
export function encodeResponse(resp: DiscoveryResponse): Buffer {
  if (resp.encoded) return resp.encoded;
  const { encoded: _encoded, ...rest } = resp;
  return Buffer.from(messageType(RESP).encode(rest as unknown as Record<string, unknown>).finish());
}

export interface SharedResponse { seq: number; nonce: string; bytes: Buffer }

let sharedSeq = 0;
const sharedCache = new WeakMap<ReadonlyMap<string, EncodedResource>, SharedResponse & { typeUrl: string; version: string }>();

/**
 * One encoded response carrying all of `resources`, written as it is to every stream that sends
 * exactly that set (alike proxies: hundreds of streams, megabytes each), nonce included. Its nonce
 * (`s<seq>`, never equal to a stream's own numeric ones) is fresh for a stream that already used
 * one numbered `after` or later, so a stream never sees a shared nonce twice for a type.
 */
export function sharedResponse(resources: ReadonlyMap<string, EncodedResource>, typeUrl: string, version: string, after: number): SharedResponse {
  let hit = sharedCache.get(resources);
  if (!hit || hit.typeUrl !== typeUrl || hit.version !== version || hit.seq <= after) {
    const seq = ++sharedSeq;
    const nonce = `s${seq}`;
    const resp = { version_info: version, resources: [...resources.values()].map((e) => e.any), type_url: typeUrl, nonce };
    hit = { seq, nonce, typeUrl, version, bytes: Buffer.from(messageType(RESP).encode(resp).finish()) };
    sharedCache.set(resources, hit);
  }
  return hit;
}

/** Decodes a response, keeping resources as raw Any (type_url + bytes). */
export function decodeResponse(buf: Buffer): DiscoveryResponse {
  const m = messageType(RESP).decode(buf) as unknown as Partial<DiscoveryResponse>;
  return {
    version_info: m.version_info ?? '',
    resources: (m.resources ?? []).map((a) => ({ type_url: a.type_url ?? '', value: a.value ?? new Uint8Array() })),
    type_url: m.type_url ?? '',
    nonce: m.nonce ?? '',
  };
}

export interface DeltaDiscoveryRequest {
  node?: Record<string, unknown>;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: RpcStatus;
}

export interface DeltaResource { name: string; version: string; resource: AnyMessage }

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane?: { identifier: string };
  /** Internal: the whole message already encoded (a response shared by streams, see sharedDeltaResponse). */
  encoded?: Buffer;
}

const DREQ = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
const DRESP = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

export function encodeDeltaRequest(req: DeltaDiscoveryRequest): Buffer {
  const t = messageType(DREQ);
  return Buffer.from(t.encode(t.fromObject(req as unknown as Record<string, unknown>)).finish());
}

export function decodeDeltaRequest(buf: Buffer): DeltaDiscoveryRequest {
  const t = messageType(DREQ);
  const o = t.toObject(t.decode(buf), TO_OBJ) as Partial<DeltaDiscoveryRequest> & { error_detail?: { code?: number; message?: string } };
  return {
    node: o.node,
    type_url: o.type_url ?? '',
    resource_names_subscribe: o.resource_names_subscribe ?? [],
    resource_names_unsubscribe: o.resource_names_unsubscribe ?? [],
    initial_resource_versions: o.initial_resource_versions ?? {},
    response_nonce: o.response_nonce ?? '',
    error_detail: o.error_detail ? { code: o.error_detail.code ?? 0, message: o.error_detail.message ?? '' } : undefined,
  };
}

export function encodeDeltaResponse(resp: DeltaDiscoveryResponse): Buffer {
  if (resp.encoded) return resp.encoded;
  const { encoded: _encoded, ...rest } = resp;
  return Buffer.from(messageType(DRESP).encode(rest as unknown as Record<string, unknown>).finish());
}

const sharedDeltaCache = new WeakMap<object, SharedResponse & { typeUrl: string; version: string }>();

/**
 * sharedResponse for Delta: one encoded response for every stream that goes from the same shared
 * state to the same next one (`change`, the identity of that difference), nonce `s<seq>` as there.
 */
export function sharedDeltaResponse(change: { changed: readonly EncodedResource[]; removed: readonly string[] }, typeUrl: string, version: string,
  after: number): SharedResponse {
  let hit = sharedDeltaCache.get(change);
  if (!hit || hit.typeUrl !== typeUrl || hit.version !== version || hit.seq <= after) {
    const seq = ++sharedSeq;
    const nonce = `s${seq}`;
    const resp = { system_version_info: version, type_url: typeUrl, nonce, removed_resources: change.removed,
      resources: change.changed.map((e) => ({ name: e.name, version: e.hash, resource: e.any })) };
    hit = { seq, nonce, typeUrl, version, bytes: Buffer.from(messageType(DRESP).encode(resp).finish()) };
    sharedDeltaCache.set(change, hit);
  }
  return hit;
}

export function decodeDeltaResponse(buf: Buffer): DeltaDiscoveryResponse {
  const m = messageType(DRESP).decode(buf) as unknown as Partial<DeltaDiscoveryResponse>;
  return {
    system_version_info: m.system_version_info ?? '',
    resources: (m.resources ?? []).map((r) => ({ name: r.name ?? '', version: r.version ?? '',
      resource: { type_url: r.resource?.type_url ?? '', value: r.resource?.value ?? new Uint8Array() } })),
    type_url: m.type_url ?? '',
    removed_resources: m.removed_resources ?? [],
    nonce: m.nonce ?? '',
  };
}

export function adsServiceDefinition(): ServiceDefinition {
  return {
    StreamAggregatedResources: {
      path: ADS_SOTW_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeRequest,
      requestDeserialize: decodeRequest,
      responseSerialize: encodeResponse,
      responseDeserialize: decodeResponse,
      originalName: 'streamAggregatedResources',
    },
    DeltaAggregatedResources: {
      path: ADS_DELTA_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeDeltaRequest,
      requestDeserialize: decodeDeltaRequest,
      responseSerialize: encodeDeltaResponse,
      responseDeserialize: decodeDeltaResponse,
      originalName: 'deltaAggregatedResources',
    },
  };
}

/** Envoy Node (decoded object form) -> NodeInfo. */
export function nodeInfoFromProto(node: Record<string, unknown> | undefined): NodeInfo {
  const n = (node ?? {}) as {
    id?: string; cluster?: string; metadata?: Parameters<typeof fromStruct>[0];
    locality?: NodeInfo['locality']; user_agent_name?: string; user_agent_version?: string; client_features?: string[];
  };
  const info: NodeInfo = { id: n.id ?? '', metadata: n.metadata ? fromStruct(n.metadata) : {} };
  if (n.cluster) info.cluster = n.cluster;
  if (n.locality) info.locality = n.locality;
  if (n.user_agent_name) info.userAgent = n.user_agent_name;
  if (n.user_agent_version) info.userAgentVersion = n.user_agent_version;
  if (n.client_features?.length) info.clientFeatures = n.client_features;
  return info;
}

/** NodeInfo -> Envoy Node object form (metadata as a Struct). */
export function nodeInfoToProto(info: NodeInfo): Record<string, unknown> {
  const node: Record<string, unknown> = { id: info.id, metadata: toStruct(info.metadata ?? {}), locality: info.locality ?? {} };
  if (info.cluster) node.cluster = info.cluster;
  if (info.userAgent) node.user_agent_name = info.userAgent;
  if (info.userAgentVersion) node.user_agent_version = info.userAgentVersion;
  if (info.clientFeatures) node.client_features = info.clientFeatures;
  return node;
}

/** Name of a resource object: `name`, or `cluster_name` for ClusterLoadAssignment. */
export function resourceName(typeUrl: string, resource: Record<string, unknown>): string {
  const n = typeUrl === TYPE.endpoint ? resource.cluster_name : resource.name;
  return typeof n === 'string' ? n : '';
}

export interface EncodedResource { name: string; any: AnyMessage; hash: string }

// Identity cache: a source that returns the same object for an unchanged resource pays for its
// encoding once, across all streams. Resources must therefore not be mutated once returned.
const encodeCache = new WeakMap<object, { typeUrl: string; enc: EncodedResource }>();

/** VHDS resources (Delta only): virtual hosts named `<route config name>/<virtual host name>`. */
export const VIRTUAL_HOST_URL = 'type.googleapis.com/envoy.config.route.v3.VirtualHost';
/** A VirtualHost object -> its encoding as RouteConfiguration field 2 (tag, length, message). */
const virtualHostField = new WeakMap<object, Buffer>();

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/**
 * A RouteConfiguration encoded from the cached encodings of its virtual hosts: a mesh's route
 * config carries a virtual host per service, and a change usually touches one of them. The bytes
 * are those of encoding the whole object (fields in number order: name = 1, virtual_hosts = 2,
 * then the rest), which a test checks.
 */
function packRouteConfiguration(rc: Record<string, unknown>): AnyMessage {
  const vhosts = rc.virtual_hosts;
  if (!Array.isArray(vhosts) || !vhosts.every((v) => typeof v === 'object' && v !== null)) return packAny(TYPE.route, rc);
  const { name, virtual_hosts: _vhosts, ...rest } = rc;
  const parts: Uint8Array[] = [];
  if (name !== undefined) parts.push(packAny(TYPE.route, { name }).value);
  for (const vh of vhosts as object[]) {
    let field = virtualHostField.get(vh);
    if (!field) {
      const bytes = packAny(VIRTUAL_HOST_URL, vh).value;
      field = Buffer.concat([Buffer.from([0x12, ...varint(bytes.length)]), bytes]);
      virtualHostField.set(vh, field);
    }
    parts.push(field);
  }
  parts.push(packAny(TYPE.route, rest).value);
  return { type_url: TYPE.route, value: Buffer.concat(parts) };
}

/** Packs a resource as Any and hashes the bytes; throws (with the reason) when it cannot be encoded. */
export function encodeResource(typeUrl: string, resource: object): EncodedResource {
  const hit = encodeCache.get(resource);
  if (hit && hit.typeUrl === typeUrl) return hit.enc;
  const any = typeUrl === TYPE.route ? packRouteConfiguration(resource as Record<string, unknown>) : packAny(typeUrl, resource);
  const hash = createHash('sha1').update(any.value).digest('base64url').slice(0, 16);
  const enc = { name: resourceName(typeUrl, resource as Record<string, unknown>), any, hash };
  encodeCache.set(resource, { typeUrl, enc });
  return enc;
}

const versionCache = new WeakMap<ReadonlyMap<string, EncodedResource>, string>();

/** Version string of a set of resources: a hash over their names and content hashes, in order. */
export function versionOf(resources: ReadonlyMap<string, EncodedResource>): string {
  const hit = versionCache.get(resources);
  if (hit) return hit;
  const parts: string[] = [];
  for (const e of resources.values()) parts.push(e.name, e.hash);
  const v = createHash('sha1').update(parts.join('\n')).digest('hex').slice(0, 12);
  versionCache.set(resources, v);
  return v;
}
