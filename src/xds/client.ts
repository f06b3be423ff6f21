// A protocol-only ADS (SotW) client: subscriptions per type, ACK/NACK through a callback,
// reconnection with jittered exponential backoff. It never throws into the event loop; when the
// server goes away, the caller simply keeps its last config until new responses arrive.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { unpackAny } from './protos.js';
import { ADS_DELTA_PATH, ADS_SOTW_PATH, decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest, nodeInfoToProto, resourceName,
  type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from './codec.js';
import { FULL_STATE, NAMESPACED, namespaceOf } from './stream-base.js';
import { noopLogger, type NodeInfo, type XdsLogger } from './types.js';

export type { NodeInfo, XdsLogger } from './types.js';

/** What a handler receives: the decoded resources of one DiscoveryResponse. */
export interface ResourceUpdate<T = Record<string, unknown>> {
  typeUrl: string;
  version: string;
  nonce: string;
  /** By resource name. For LDS/CDS this is the full state; for RDS/EDS/SDS only what changed. */
  resources: Map<string, T>;
  /** Delta only: names the server removed (or says do not exist). LDS/CDS also reflect them by absence. */
  removed?: string[];
}

/** Return undefined (or '') to ACK, an error message to NACK. A throw or rejection NACKs too. */
export type ResourceHandler<T = Record<string, unknown>> = (update: ResourceUpdate<T>) => string | undefined | void | Promise<string | undefined | void>;

export interface AdsClientOptions {
  /** host:port of the ADS server. */
  address: string;
  /** 'sotw' (StreamAggregatedResources, default) or 'delta' (DeltaAggregatedResources). Handlers see the same updates. */
  protocol?: 'sotw' | 'delta';
  node: NodeInfo;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /** Reconnect backoff: first delay (default 100 ms), cap (default 5000 ms), jitter fraction (default 0.2). */
  backoff?: { initialMs?: number; maxMs?: number; multiplier?: number; jitter?: number };
  logger?: XdsLogger;
}

export interface AdsClientState {
  /** A response has arrived on the current stream. */
  connected: boolean;
  /** Successive stream attempts since the last response received. */
  failures: number;
  lastError?: string;
  /** Per type URL: last ACKed version, current subscription and last NACK message. */
  types: Record<string, { names: string[] | '*'; ackedVersion: string; nonce: string; lastNack?: string }>;
}

export interface AdsClientEvents {
  connected: [];
  disconnected: [{ error: string; retryInMs: number }];
  ack: [{ typeUrl: string; version: string; nonce: string }];
  nack: [{ typeUrl: string; version: string; nonce: string; message: string }];
}

interface Subscription {
  typeUrl: string;
  names: string[] | '*';
  handler: ResourceHandler;
  ackedVersion: string;
  /** Nonce of the last response received on the current stream. */
  nonce: string;
  lastNack?: string;
  /** Delta: resources held (name -> version), sent as initial_resource_versions on reconnect. */
  known: Map<string, string>;
  /** Delta, LDS/CDS: the full state, so handlers get what SotW would give them. */
  full: Map<string, Record<string, unknown>>;
  /** Delta: the subscription as the server knows it on this stream (undefined: not sent yet). */
  streamNames?: string[];
}

type AnyRequest = DiscoveryRequest | DeltaDiscoveryRequest;
type AnyResponse = DiscoveryResponse | DeltaDiscoveryResponse;
type AdsStream = grpc.ClientDuplexStream<AnyRequest, AnyResponse>;

/**
 * HTTP/2 receive window of the ADS connection and stream. Node's default (64 KiB) makes weftd wait
 * for a WINDOW_UPDATE round trip every 64 KiB of a multi-megabyte CDS or RDS response; Envoy's
 * default for its xDS connection is 256 MiB. 16 MiB holds a whole large push.
 */
export const ADS_FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

export class AdsClient extends EventEmitter {
  private readonly client: grpc.Client;
  private readonly subs = new Map<string, Subscription>();
  private stream: AdsStream | undefined;
  private sentNode = false;
  private connected = false;
  private failures = 0;
  private lastError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  /** Responses are handled one at a time so ACKs go out in order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly logger: XdsLogger;

  constructor(private readonly opts: AdsClientOptions) {
    super();
    this.logger = opts.logger ?? noopLogger;
    this.client = new grpc.Client(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': ADS_FLOW_CONTROL_WINDOW, ...opts.channelOptions,
    });
  }

  override emit<E extends keyof AdsClientEvents>(event: E, ...args: AdsClientEvents[E]): boolean {
    try {
      return super.emit(event, ...args);
    } catch (e) {
      this.logger.error(`ads client: '${event}' listener threw: ${e instanceof Error ? e.message : String(e)}`);
      return true;
    }
  }

  override on<E extends keyof AdsClientEvents>(event: E, listener: (...args: AdsClientEvents[E]) => void): this {
    return super.on(event, listener as (...a: unknown[]) => void);
  }

  override once<E extends keyof AdsClientEvents>(event: E, listener: (...args: AdsClientEvents[E]) => void): this {
    return super.once(event, listener as (...a: unknown[]) => void);
  }

  /** Subscribes (or changes the subscription) to a type: '*' for wildcard (LDS/CDS), or names. */
  subscribe<T = Record<string, unknown>>(typeUrl: string, names: readonly string[] | '*', typedHandler: ResourceHandler<T>): void {
    // Resources are decoded Envoy objects; T only types the caller's view of them.
    const handler = typedHandler as unknown as ResourceHandler;
    const prev = this.subs.get(typeUrl);
    const list = names === '*' ? '*' : [...new Set(names)].sort();
    if (prev) {
      prev.handler = handler;
      const same = JSON.stringify(prev.names) === JSON.stringify(list);
      prev.names = list;
      if (!same) this.sendRequest(prev);
      return;
    }
    const sub: Subscription = { typeUrl, names: list, handler, ackedVersion: '', nonce: '', known: new Map(), full: new Map() };
    this.subs.set(typeUrl, sub);
    this.sendRequest(sub);
  }

  /** Stops a subscription (tells the server the type has no names any more). */
  unsubscribe(typeUrl: string): void {
    const sub = this.subs.get(typeUrl);
    if (!sub) return;
    sub.names = [];
    this.sendRequest(sub);
    this.subs.delete(typeUrl);
  }

  /** Opens the stream (subscriptions made before are sent at once). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.openStream();
  }

  state(): AdsClientState {
    const types: AdsClientState['types'] = {};
    for (const s of this.subs.values()) {
      types[s.typeUrl] = { names: s.names === '*' ? '*' : [...s.names], ackedVersion: s.ackedVersion, nonce: s.nonce };
      if (s.lastNack) types[s.typeUrl].lastNack = s.lastNack;
    }
    const st: AdsClientState = { connected: this.connected, failures: this.failures, types };
    if (this.lastError) st.lastError = this.lastError;
    return st;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const s = this.stream;
    this.stream = undefined;
    if (s) s.cancel();
    this.client.close();
  }

  private openStream(): void {
    if (this.closed) return;
    let stream: AdsStream;
    try {
      stream = (this.opts.protocol === 'delta'
        ? this.client.makeBidiStreamRequest(ADS_DELTA_PATH, encodeDeltaRequest, decodeDeltaResponse)
        : this.client.makeBidiStreamRequest(ADS_SOTW_PATH, encodeRequest, decodeResponse)) as unknown as AdsStream;
    } catch (e) {
      this.onStreamGone(undefined, e instanceof Error ? e.message : String(e));
      return;
    }
    this.stream = stream;
    this.sentNode = false;
    for (const s of this.subs.values()) {
      s.nonce = '';
      s.streamNames = undefined;
    }
    stream.on('data', (resp: AnyResponse) => {
      if (this.stream !== stream) return;
      if (!this.connected) {
        this.connected = true;
        this.failures = 0;
        this.emit('connected');
      }
      this.queue = this.queue.then(() => this.handleResponse(stream, resp)).catch((e: unknown) => {
        this.logger.error(`ads client: response handling failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    });
    stream.on('error', (e: Error) => this.onStreamGone(stream, e.message));
    stream.on('end', () => this.onStreamGone(stream, 'stream ended by server'));
    stream.on('status', (s: grpc.StatusObject) => this.onStreamGone(stream, `status ${s.code}: ${s.details}`));
    for (const s of this.subs.values()) this.sendRequest(s);
  }

  private onStreamGone(stream: AdsStream | undefined, error: string): void {
    if (stream && this.stream !== stream) return;
    this.stream = undefined;
    const wasConnected = this.connected;
    this.connected = false;
    this.lastError = error;
    if (this.closed) return;
    const delay = this.backoffDelay();
    this.failures++;
    if (wasConnected) this.logger.warn(`ads client: lost ${this.opts.address}: ${error}; retrying in ${delay} ms`);
    this.emit('disconnected', { error, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.openStream();
    }, delay);
  }

  private backoffDelay(): number {
    const b = this.opts.backoff ?? {};
    const initial = b.initialMs ?? 100;
    const max = b.maxMs ?? 5000;
    const base = Math.min(max, initial * (b.multiplier ?? 2) ** this.failures);
    const jitter = b.jitter ?? 0.2;
    return Math.max(1, Math.min(max, Math.round(base * (1 - jitter + Math.random() * 2 * jitter))));
  }

  private sendRequest(sub: Subscription, extra?: { nonce: string; error?: string; version?: string }): void {
    const stream = this.stream;
    if (!stream || this.closed) return;
    // Wildcard is spelled "*" (not the legacy empty list) so that a later empty list unsubscribes.
    const names = sub.names === '*' ? ['*'] : sub.names;
    const req: AnyRequest = this.opts.protocol === 'delta' ? this.deltaRequest(sub, names, extra) : {
      version_info: extra?.version ?? sub.ackedVersion,
      resource_names: names,
      type_url: sub.typeUrl,
      response_nonce: extra?.nonce ?? sub.nonce,
    };
    if (extra?.error !== undefined) req.error_detail = { code: grpc.status.INVALID_ARGUMENT, message: extra.error };
    if (!this.sentNode) {
      req.node = nodeInfoToProto(this.opts.node);
      this.sentNode = true;
    }
    try {
      stream.write(req);
    } catch (e) {
      this.logger.error(`ads client: cannot send request for ${sub.typeUrl}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private deltaRequest(sub: Subscription, names: string[], extra?: { nonce: string; error?: string }): DeltaDiscoveryRequest {
    const req: DeltaDiscoveryRequest = { type_url: sub.typeUrl, resource_names_subscribe: [], resource_names_unsubscribe: [],
      initial_resource_versions: {}, response_nonce: extra?.nonce ?? '' };
    if (sub.streamNames === undefined) {
      req.resource_names_subscribe = names;
      req.initial_resource_versions = Object.fromEntries(sub.known);
    } else {
      const had = new Set(sub.streamNames);
      const now = new Set(names);
      req.resource_names_subscribe = names.filter((n) => !had.has(n));
      req.resource_names_unsubscribe = sub.streamNames.filter((n) => !now.has(n));
      for (const n of req.resource_names_unsubscribe) {
        sub.known.delete(n);
        sub.full.delete(n);
      }
      // A namespace (VHDS) unsubscribed: the resources in it are dropped too.
      if (NAMESPACED.has(sub.typeUrl) && req.resource_names_unsubscribe.length > 0) {
        const gone = new Set(req.resource_names_unsubscribe);
        for (const n of [...sub.known.keys()]) if (gone.has(namespaceOf(n))) sub.known.delete(n);
      }
    }
    sub.streamNames = names;
    return req;
  }

  private async handleResponse(stream: AdsStream, response: AnyResponse): Promise<void> {
    if (this.stream !== stream) return;
    const delta = 'system_version_info' in response;
    const resp: DiscoveryResponse = delta
      ? { version_info: response.system_version_info, type_url: response.type_url, nonce: response.nonce, resources: response.resources.map((r) => r.resource) }
      : response;
    const sub = this.subs.get(resp.type_url);
    if (!sub) {
      this.logger.warn(`ads client: response for unsubscribed type ${resp.type_url} ignored`);
      return;
    }
    sub.nonce = resp.nonce;
    let error: string | undefined;
    const resources = new Map<string, Record<string, unknown>>();
    try {
      for (const any of resp.resources) {
        if (any.type_url !== resp.type_url) throw new Error(`resource of type ${any.type_url} in a ${resp.type_url} response`);
        const r = unpackAny(any);
        const name = resourceName(resp.type_url, r);
        if (resources.has(name)) throw new Error(`resource "${name}" appears twice`);
        resources.set(name, r);
      }
      const update: ResourceUpdate = { typeUrl: resp.type_url, version: resp.version_info, nonce: resp.nonce, resources };
      if (delta) {
        update.removed = response.removed_resources;
        if (FULL_STATE.has(resp.type_url)) {
          update.resources = new Map(sub.full);
          for (const n of response.removed_resources) update.resources.delete(n);
          for (const [n, r] of resources) update.resources.set(n, r);
        }
      }
      const verdict = await sub.handler(update);
      if (verdict) error = verdict;
      else if (delta) {
        if (FULL_STATE.has(resp.type_url)) sub.full = update.resources;
        for (const n of response.removed_resources) sub.known.delete(n);
        for (const r of response.resources) sub.known.set(r.name, r.version);
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (this.stream !== stream || this.subs.get(resp.type_url) !== sub) return;
    if (error === undefined) {
      sub.ackedVersion = resp.version_info;
      sub.lastNack = undefined;
      this.sendRequest(sub, { nonce: resp.nonce });
      this.emit('ack', { typeUrl: sub.typeUrl, version: resp.version_info, nonce: resp.nonce });
    } else {
      sub.lastNack = error;
      this.logger.warn(`ads client: rejecting ${resp.type_url} version ${resp.version_info}: ${error}`);
      this.sendRequest(sub, { nonce: resp.nonce, error });
      this.emit('nack', { typeUrl: sub.typeUrl, version: resp.version_info, nonce: resp.nonce, message: error });
    }
  }
}

/** Creates an ADS client; call subscribe() for each type and start() to connect. */
export function createAdsClient(opts: AdsClientOptions): AdsClient {
  return new AdsClient(opts);
}
