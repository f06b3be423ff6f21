// Public types of the xDS protocol layer (server and client). Nothing here knows what the
// resources mean: they are plain objects with Envoy's snake_case field names (see protos.ts).
import type { ServerCredentials, ServerOptions } from '@grpc/grpc-js';

/** The proxy (xDS client) as it describes itself in DiscoveryRequest.node. */
export interface NodeInfo {
  id: string;
  cluster?: string;
  /** node.metadata converted from google.protobuf.Struct to plain JSON. */
  metadata: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** node.user_agent_name, e.g. "envoy" or "gRPC Node Pure JS". */
  userAgent?: string;
  userAgentVersion?: string;
  clientFeatures?: string[];
}

/** Who is on the other end of a stream, as the transport proves it (not as the node claims). */
export interface XdsPeer {
  /** gRPC peer address (ip:port). */
  address: string;
  /**
   * The client's TLS certificate, present only when the connection is TLS and the certificate was
   * verified against the server's trust roots (absent on plaintext, or TLS without a client cert).
   */
  certificate?: { uriSans: string[]; serialNumber: string; subject: string; validTo: string; fingerprint256: string };
  /** Set from XdsServerOptions.authenticate's result: who the stream proved to be (e.g. a SPIFFE ID). */
  principal?: string;
}

/** authenticate's answer: accept (optionally naming the proven principal) or refuse with a reason. */
export type XdsAuthResult = { principal?: string } | { denied: string };

/** Where the ADS server gets resources from; it is asked again after every notify(). */
export interface ResourceSource {
  /**
   * Resources of typeUrl for this node, by name. names = the subscribed names, or '*' for a
   * wildcard subscription. Return only resources that exist (extra names are ignored when not
   * subscribed). `peer` is the stream's transport identity (after authenticate, when configured).
   *
   * IMMUTABILITY CONTRACT: never mutate a returned Map or resource object afterwards; a change
   * must come as a new object (and a new Map). The server caches encodings by object identity:
   * the same resource object is encoded once for all streams, and the same Map returned to many
   * proxies (e.g. one per class of identical proxies) is encoded, hashed and serialized once.
   */
  resources(node: NodeInfo, typeUrl: string, names: readonly string[] | '*', peer?: XdsPeer): ReadonlyMap<string, object> | Promise<ReadonlyMap<string, object>>;
}

export type SyncStatus = 'SYNCED' | 'STALE' | 'NOT SENT' | 'NACKED';

/** Sync state of one type URL on one stream (one row of `weft proxy-status`). */
export interface TypeSyncStatus {
  typeUrl: string;
  /** '*' for wildcard (plus any explicitly named resources in `names`). */
  subscription: { wildcard: boolean; names: string[] };
  /** version_info of the last response sent, '' when none. */
  sentVersion: string;
  /** version_info of the last ACKed response, '' when none. */
  ackedVersion: string;
  /** nonce of the last response sent, '' when none. */
  nonce: string;
  /** Resources the proxy has been sent (current state as the server tracks it). */
  resourceCount: number;
  lastNack?: { nonce: string; version: string; code: number; message: string; at: string };
  /** Resources skipped in the last computation because they could not be encoded. */
  encodeErrors: { name: string; error: string }[];
  /** Error thrown by the ResourceSource for this type on the last computation. */
  sourceError?: string;
  status: SyncStatus;
}

export interface ProxyStatus {
  streamId: number;
  /** Which ADS variant the proxy speaks. */
  protocol: 'sotw' | 'delta';
  node: NodeInfo;
  peer: string;
  /** The principal authenticate() proved for this stream, when any. */
  principal?: string;
  connectedAt: string;
  /** One entry per type URL the proxy subscribed to, in push order. */
  types: TypeSyncStatus[];
}

export interface ConnectEvent { streamId: number; node: NodeInfo; peer: string }
export interface DisconnectEvent { streamId: number; node: NodeInfo; peer: string; reason: string }
export interface AckEvent { streamId: number; nodeId: string; typeUrl: string; version: string; nonce: string }
export interface NackEvent extends AckEvent { code: number; message: string }
export interface PushEvent { streamId: number; nodeId: string; typeUrl: string; version: string; nonce: string; resourceNames: string[] }

export interface XdsServerEvents {
  connect: [ConnectEvent];
  disconnect: [DisconnectEvent];
  ack: [AckEvent];
  nack: [NackEvent];
  push: [PushEvent];
}

export interface XdsLogger {
  debug?(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface XdsServerOptions {
  /** Quiet time after the last notify() before recomputing (default 50 ms). */
  debounceMs?: number;
  /** Longest delay from the first notify() of a burst to the recomputation (default 500 ms). */
  maxDelayMs?: number;
  /**
   * Make-before-break: when a push sends Clusters and Listeners/Routes are also due, wait up to
   * this long for the Cluster ACK/NACK before sending them (default 2000 ms; 0 disables waiting).
   */
  clusterAckWaitMs?: number;
  /**
   * Response bytes written to streams and not yet handed to HTTP/2, all streams together
   * (default 16 MiB): bounds memory when many proxies sync at once. Responses wait in order.
   */
  sendBudgetBytes?: number;
  /** Identifies this control plane in DiscoveryResponse.control_plane. */
  controlPlaneId?: string;
  logger?: XdsLogger;
  /**
   * Called once per stream with the node of its first request, before anything is served or the
   * 'connect' event fires. A `{ denied }` answer (or a throw) closes the stream with
   * PERMISSION_DENIED and that message; `{ principal }` is kept on the stream and handed to the
   * source with every resources() call. Omitted: every stream is accepted as it claims.
   */
  authenticate?: (node: NodeInfo, peer: XdsPeer) => XdsAuthResult;
  /** Extra gRPC server options, e.g. keepalive to notice dead proxies sooner. */
  grpcOptions?: ServerOptions;
}

export interface XdsServer {
  /** Something changed: recompute for these node ids (all when omitted) and push what differs. Debounced. */
  notify(nodeIds?: readonly string[]): void;
  /** Per-connected-proxy sync state. */
  status(): ProxyStatus[];
  on<E extends keyof XdsServerEvents>(event: E, listener: (...args: XdsServerEvents[E]) => void): this;
  off<E extends keyof XdsServerEvents>(event: E, listener: (...args: XdsServerEvents[E]) => void): this;
  once<E extends keyof XdsServerEvents>(event: E, listener: (...args: XdsServerEvents[E]) => void): this;
  /** Binds host:port (port 0 picks one). Insecure unless creds are given. */
  listen(address: string, creds?: ServerCredentials): Promise<{ port: number }>;
  /** Ends every stream and stops the gRPC server. */
  close(): Promise<void>;
}

export const noopLogger: XdsLogger = { info() {}, warn() {}, error() {} };
