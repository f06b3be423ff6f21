// Test helpers: an in-memory ResourceSource and a raw ADS stream speaking DiscoveryRequests.
import * as grpc from '@grpc/grpc-js';
import {
  ADS_DELTA_PATH, ADS_SOTW_PATH, decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest,
  type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse,
} from '../../src/xds/codec.js';
import { unpackAny } from '../../src/xds/protos.js';
import type { NodeInfo, ResourceSource } from '../../src/xds/types.js';

/** Resources per type URL, shared by every node; counts calls so tests can see recomputations. */
export class MemorySource implements ResourceSource {
  readonly byType = new Map<string, Map<string, object>>();
  calls = 0;
  readonly nodesSeen: NodeInfo[] = [];

  /** Copy on write: a Map handed to the server is never mutated (the ResourceSource contract). */
  set(typeUrl: string, name: string, resource: object | undefined): void {
    const m = new Map(this.byType.get(typeUrl));
    if (resource === undefined) m.delete(name);
    else m.set(name, resource);
    this.byType.set(typeUrl, m);
  }

  resources(node: NodeInfo, typeUrl: string, names: readonly string[] | '*'): ReadonlyMap<string, object> {
    this.calls++;
    this.nodesSeen.push(node);
    const m = this.byType.get(typeUrl) ?? new Map<string, object>();
    if (names === '*') return m;
    const out = new Map<string, object>();
    for (const n of names) {
      const r = m.get(n);
      if (r) out.set(n, r);
    }
    return out;
  }
}

export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface DecodedResponse extends DiscoveryResponse { names: string[] }

/** A hand-driven ADS stream: send exactly the DiscoveryRequests a test wants, read responses in order. */
export class RawAds {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private readonly queue: DecodedResponse[] = [];
  private waiter: (() => void) | undefined;
  ended = false;

  constructor(port: number) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.stream = this.client.makeBidiStreamRequest(ADS_SOTW_PATH, encodeRequest, decodeResponse);
    this.stream.on('data', (r: DiscoveryResponse) => {
      const names = r.resources.map((a) => {
        const o = unpackAny<Record<string, unknown>>(a);
        return String(o.name ?? o.cluster_name);
      });
      this.queue.push({ ...r, names });
      this.waiter?.();
    });
    this.stream.on('error', () => {
      this.ended = true;
    });
  }

  send(req: Partial<DiscoveryRequest> & { type_url: string }): void {
    this.stream.write({ version_info: '', resource_names: [], response_nonce: '', ...req });
  }

  async next(timeoutMs = 5000): Promise<DecodedResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no DiscoveryResponse arrived');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
    return this.queue.shift()!;
  }

  pending(): number {
    return this.queue.length;
  }

  ack(r: DiscoveryResponse, names: string[] = []): void {
    this.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: names });
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}

// ---- Resource builders (Envoy object form).

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** A hand-driven Delta ADS stream; `typeUrl` is the type a request without its own `type_url` asks for. */
export class RawDelta {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  private readonly queue: DeltaDiscoveryResponse[] = [];

  constructor(port: number, private readonly typeUrl = '') {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.stream = this.client.makeBidiStreamRequest(ADS_DELTA_PATH, encodeDeltaRequest, decodeDeltaResponse);
    this.stream.on('data', (r: DeltaDiscoveryResponse) => this.queue.push(r));
    this.stream.on('error', () => {});
  }

  send(req: Partial<DeltaDiscoveryRequest>): void {
    this.stream.write({ type_url: this.typeUrl, resource_names_subscribe: [], resource_names_unsubscribe: [], initial_resource_versions: {}, response_nonce: '', ...req });
  }

  async next(): Promise<DeltaDiscoveryResponse & { names: string[] }> {
    const r = await until('a DeltaDiscoveryResponse', () => this.queue.shift());
    return { ...r, names: r.resources.map((x) => x.name).sort() };
  }

  pending(): number {
    return this.queue.length;
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}

export function edsCluster(name: string, serviceName = name): object {
  return { name, type: 'EDS', lb_policy: 'ROUND_ROBIN', eds_cluster_config: { eds_config: { ads: {} }, service_name: serviceName } };
}

export function loadAssignment(name: string, ports: number[], host = '127.0.0.1'): object {
  return {
    cluster_name: name,
    endpoints: [{
      locality: { region: 'r1' },
      load_balancing_weight: { value: 1 },
      lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: host, port_value: p } } } })),
    }],
  };
}

export function apiListener(name: string, routeName: string): object {
  return {
    name,
    api_listener: { api_listener: { '@type': HCM, stat_prefix: name, rds: { route_config_name: routeName, config_source: { ads: {} } },
      http_filters: [{ name: 'router', typed_config: { '@type': ROUTER } }] } },
  };
}

export function weightedRoute(name: string, weights: Record<string, number>): object {
  const clusters = Object.entries(weights).map(([c, w]) => ({ name: c, weight: { value: w } }));
  return { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '' }, route: { weighted_clusters: { clusters } } }] }] };
}

export function simpleRoute(name: string, cluster: string): object {
  return { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster } }] }] };
}
