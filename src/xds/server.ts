// The ADS server: gRPC plumbing, the set of live streams, debounced notify() and status().
// The protocol state machine of one stream lives in sotw-stream.ts.
import { EventEmitter } from 'node:events';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { PUSH_ORDER } from './protos.js';
import { adsServiceDefinition, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from './codec.js';
import { DeltaStream } from './delta-stream.js';
import { SotwStream } from './sotw-stream.js';
import { SendBudget } from './send-budget.js';
import { noopLogger, type ProxyStatus, type ResourceSource, type XdsPeer, type XdsServer, type XdsServerEvents, type XdsServerOptions } from './types.js';

export type { XdsPeer, XdsAuthResult } from './types.js';
export type { NodeInfo, ResourceSource, XdsServer, XdsServerOptions, ProxyStatus, TypeSyncStatus, SyncStatus, XdsServerEvents,
  ConnectEvent, DisconnectEvent, AckEvent, NackEvent, PushEvent, XdsLogger } from './types.js';

class AdsServer extends EventEmitter implements XdsServer {
  private readonly grpcServer: grpc.Server;
  private readonly streams = new Map<number, SotwStream | DeltaStream>();
  private nextStreamId = 1;
  private pendingAll = false;
  private readonly pendingNodes = new Set<string>();
  private debounceTimer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private closed = false;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly logger;
  private readonly sendBudget: SendBudget;

  constructor(private readonly source: ResourceSource, private readonly opts: XdsServerOptions = {}) {
    super();
    this.grpcServer = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000, ...opts.grpcOptions });
    this.debounceMs = opts.debounceMs ?? 50;
    this.maxDelayMs = Math.max(opts.maxDelayMs ?? 500, this.debounceMs);
    this.logger = opts.logger ?? noopLogger;
    this.sendBudget = new SendBudget(opts.sendBudgetBytes ?? 16 * 1024 * 1024);
    this.grpcServer.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => this.onStream(call, 'sotw'),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => this.onStream(call, 'delta'),
    });
  }

  // Events with no listener must not throw ('error' is never emitted here).
  override emit<E extends keyof XdsServerEvents>(event: E, ...args: XdsServerEvents[E]): boolean {
    try {
      return super.emit(event, ...args);
    } catch (e) {
      this.logger.error(`xds: '${event}' listener threw: ${e instanceof Error ? e.message : String(e)}`);
      return true;
    }
  }

  private onStream<Req, Resp>(call: grpc.ServerDuplexStream<Req, Resp>, kind: 'sotw' | 'delta'): void {
    if (this.closed) {
      call.destroy();
      return;
    }
    const id = this.nextStreamId++;
    const peer = call.getPeer();
    const ctx = {
      source: this.source, logger: this.logger, controlPlaneId: this.opts.controlPlaneId,
      clusterAckWaitMs: this.opts.clusterAckWaitMs ?? 2000,
      emit: <E extends keyof XdsServerEvents>(event: E, ...args: XdsServerEvents[E]) => void this.emit(event, ...args),
      listens: (event: keyof XdsServerEvents) => this.listenerCount(event) > 0,
      sendBudget: this.sendBudget,
      transport: transportPeer(call, peer),
      authenticate: this.opts.authenticate,
      deny: (message: string) => {
        // The stream's 'error' listener ends the call with this status (grpc-js ServerDuplexStream).
        call.emit('error', Object.assign(new Error(message), { code: grpc.status.PERMISSION_DENIED, details: message }));
      },
    };
    const stream = kind === 'sotw'
      ? new SotwStream(id, peer, call as unknown as grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>, ctx)
      : new DeltaStream(id, peer, call as unknown as grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>, ctx);
    this.streams.set(id, stream);
    const finish = (reason: string): void => {
      if (!this.streams.has(id)) return;
      this.streams.delete(id);
      stream.close(reason);
    };
    call.on('data', (req: unknown) => {
      if (stream instanceof SotwStream) stream.onRequest(req as DiscoveryRequest);
      else stream.onRequest(req as DeltaDiscoveryRequest);
    });
    call.on('end', () => {
      finish('client closed the stream');
      stream.end();
    });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (e: Error) => finish(`error: ${e.message}`));
    call.on('close', () => finish('closed'));
  }

  notify(nodeIds?: readonly string[]): void {
    if (this.closed) return;
    if (nodeIds === undefined) this.pendingAll = true;
    else for (const n of nodeIds) this.pendingNodes.add(n);
    const now = Date.now();
    if (!this.debounceTimer) this.firstPendingAt = now;
    else clearTimeout(this.debounceTimer);
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstPendingAt + this.maxDelayMs - now));
    this.debounceTimer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.debounceTimer = undefined;
    const all = this.pendingAll;
    const nodes = new Set(this.pendingNodes);
    this.pendingAll = false;
    this.pendingNodes.clear();
    for (const s of this.streams.values()) if (all || nodes.has(s.nodeId)) s.markAllDirty();
  }

  status(): ProxyStatus[] {
    const rank = (u: string): number => (PUSH_ORDER.includes(u) ? PUSH_ORDER.indexOf(u) : PUSH_ORDER.length);
    const out: ProxyStatus[] = [];
    for (const s of this.streams.values()) {
      if (!s.node) continue;
      const types = [...s.types.values()].map((t) => s.typeStatus(t)).sort((a, b) => rank(a.typeUrl) - rank(b.typeUrl));
      out.push({ streamId: s.id, protocol: s instanceof DeltaStream ? 'delta' : 'sotw', node: s.node, peer: s.peer,
        ...(s.transport.principal ? { principal: s.transport.principal } : {}), connectedAt: s.connectedAt, types });
    }
    return out.sort((a, b) => a.node.id.localeCompare(b.node.id) || a.streamId - b.streamId);
  }

  listen(address: string, creds?: grpc.ServerCredentials): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.grpcServer.bindAsync(address, creds ?? grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new Error(`xds server cannot listen on ${address}: ${err.message}`));
        else resolve({ port });
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    for (const s of this.streams.values()) {
      s.close('server closing');
      s.end();
    }
    this.streams.clear();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 1000);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

/** The verified TLS client certificate of a call, when there is one (grpc-js reports only verified ones). */
function transportPeer(call: grpc.ServerDuplexStream<unknown, unknown>, address: string): XdsPeer {
  let cert: PeerCertificate | undefined;
  try {
    cert = call.getAuthContext?.()?.sslPeerCertificate;
  } catch {
    cert = undefined;
  }
  if (!cert?.raw) return { address };
  const uriSans = (cert.subjectaltname ?? '').split(/,\s*/).filter((x) => x.startsWith('URI:')).map((x) => x.slice(4));
  const subject = Object.entries(cert.subject ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  return { address, certificate: { uriSans, serialNumber: cert.serialNumber, subject, validTo: cert.valid_to, fingerprint256: cert.fingerprint256 } };
}

/** Creates an ADS (SotW) server that serves the resources of `source`. Call listen() to bind. */
export function createXdsServer(source: ResourceSource, opts?: XdsServerOptions): XdsServer {
  return new AdsServer(source, opts);
}
