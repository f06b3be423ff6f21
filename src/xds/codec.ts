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
  /** Internal: the encoding of every field but `nonce`, shared between streams. */
  encodedPrefix?: Buffer;
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
  const t = messageType(RESP);
  // Protobuf fields may come in any order: the shared prefix plus this stream's nonce is a valid message.
  if (resp.encodedPrefix) return Buffer.concat([resp.encodedPrefix, t.encode({ nonce: resp.nonce }).finish()]);
  return Buffer.from(t.encode(resp as unknown as Record<string, unknown>).finish());
}

const prefixCache = new WeakMap<ReadonlyMap<string, EncodedResource>, { version: string; bytes: Buffer }>();

/** Encoding of a response carrying all of `resources`, without its nonce; cached per resource set. */
export function responsePrefix(resources: ReadonlyMap<string, EncodedResource>, resp: DiscoveryResponse): Buffer {
  const hit = prefixCache.get(resources);
  if (hit && hit.version === resp.version_info && !resp.control_plane) return hit.bytes;
  const { nonce: _nonce, encodedPrefix: _prefix, ...rest } = resp;
  const bytes = Buffer.from(messageType(RESP).encode(rest as unknown as Record<string, unknown>).finish());
  if (!resp.control_plane) prefixCache.set(resources, { version: resp.version_info, bytes });
  return bytes;
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
  return Buffer.from(messageType(DRESP).encode(resp as unknown as Record<string, unknown>).finish());
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

/** Packs a resource as Any and hashes the bytes; throws (with the reason) when it cannot be encoded. */
export function encodeResource(typeUrl: string, resource: object): EncodedResource {
  const hit = encodeCache.get(resource);
  if (hit && hit.typeUrl === typeUrl) return hit.enc;
  const any = packAny(typeUrl, resource);
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
