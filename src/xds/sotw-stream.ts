// One State-of-the-World ADS stream: per type URL it tracks the subscription, what the proxy was
// sent (per-resource hash), version, nonce and ACK/NACK, and pushes what differs, in push order.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { PUSH_ORDER, TYPE } from './protos.js';
import { encodeResource, nodeInfoFromProto, versionOf, type DiscoveryRequest, type DiscoveryResponse, type EncodedResource } from './codec.js';
import type { NodeInfo, ResourceSource, TypeSyncStatus, XdsLogger, XdsServerEvents } from './types.js';

/** Types whose every response must carry the full subscribed set, and which accept wildcards. */
const FULL_STATE = new Set<string>([TYPE.listener, TYPE.cluster]);

interface TypeState {
  typeUrl: string;
  wildcard: boolean;
  names: Set<string>;
  /** The stream named resources for this type at least once: an empty list then means "none". */
  everNamed: boolean;
  /** What the proxy holds, as far as we know: what we last sent it. */
  sent: Map<string, EncodedResource>;
  sentVersion: string;
  nonce: string;
  ackedVersion: string;
  ackedNonce: string;
  nackedNonce: string;
  lastNack?: TypeSyncStatus['lastNack'];
  encodeErrors: { name: string; error: string }[];
  sourceError?: string;
  pending: boolean;
  /** Names to send even when unchanged (newly subscribed), or 'all' after a fresh subscription. */
  forced: Set<string> | 'all';
}

export interface StreamContext {
  source: ResourceSource;
  logger: XdsLogger;
  clusterAckWaitMs: number;
  controlPlaneId?: string;
  emit<E extends keyof XdsServerEvents>(event: E, ...args: XdsServerEvents[E]): void;
}

type AdsCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class SotwStream {
  node: NodeInfo | undefined;
  readonly connectedAt = new Date().toISOString();
  readonly types = new Map<string, TypeState>();
  private nonceCounter = 0;
  private running = false;
  private closed = false;
  private readonly ackWaiters = new Map<string, () => void>();
  private readonly closeWaiters = new Set<() => void>();

  constructor(readonly id: number, readonly peer: string, private readonly call: AdsCall, private readonly ctx: StreamContext) {}

  get nodeId(): string {
    return this.node?.id ?? '';
  }

  /** Handles one DiscoveryRequest. Never throws. */
  onRequest(req: DiscoveryRequest): void {
    if (this.closed) return;
    if (!this.node) {
      this.node = nodeInfoFromProto(req.node);
      if (!req.node) this.ctx.logger.warn(`xds stream ${this.id} (${this.peer}): first request carries no node`);
      this.ctx.emit('connect', { streamId: this.id, node: this.node, peer: this.peer });
    }
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.ctx.logger.warn(`xds stream ${this.id} (${this.nodeId}): request without type_url ignored`);
      return;
    }
    let t = this.types.get(typeUrl);
    if (!t) {
      t = { typeUrl, wildcard: false, names: new Set(), everNamed: false, sent: new Map(), sentVersion: '', nonce: '', ackedVersion: '',
        ackedNonce: '', nackedNonce: '', encodeErrors: [], pending: false, forced: new Set() };
      this.types.set(typeUrl, t);
    }
    if (req.response_nonce !== '') {
      // Only the latest nonce counts: an older one answers a response the proxy has since replaced.
      if (req.response_nonce !== t.nonce) return;
      if (req.error_detail) this.onNack(t, req);
      else this.onAck(t, req);
    }
    const fresh = req.response_nonce === '';
    const added = this.updateSubscription(t, req.resource_names);
    if (fresh) {
      // A new subscription for this type (first request, or the proxy started over): send everything.
      t.sent = new Map();
      t.forced = 'all';
      t.pending = true;
    } else if (added.length > 0) {
      if (t.forced !== 'all') for (const n of added) t.forced.add(n);
      t.pending = true;
    }
    if (t.pending) this.kick();
  }

  /** Recompute every subscribed type (after notify). */
  markAllDirty(): void {
    for (const t of this.types.values()) t.pending = true;
    this.kick();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.ackWaiters.values()) w();
    for (const w of this.closeWaiters) w();
    this.ackWaiters.clear();
    if (this.node) this.ctx.emit('disconnect', { streamId: this.id, node: this.node, peer: this.peer, reason });
  }

  end(): void {
    try {
      this.call.end();
    } catch {
      // already gone
    }
  }

  typeStatus(t: TypeState): TypeSyncStatus {
    const status = t.nonce === '' ? 'NOT SENT' : t.nackedNonce === t.nonce ? 'NACKED' : t.ackedNonce === t.nonce ? 'SYNCED' : 'STALE';
    const s: TypeSyncStatus = {
      typeUrl: t.typeUrl, subscription: { wildcard: t.wildcard, names: [...t.names].sort() },
      sentVersion: t.sentVersion, ackedVersion: t.ackedVersion, nonce: t.nonce, resourceCount: t.sent.size,
      encodeErrors: [...t.encodeErrors], status,
    };
    if (t.lastNack) s.lastNack = { ...t.lastNack };
    if (t.sourceError) s.sourceError = t.sourceError;
    return s;
  }

  private onAck(t: TypeState, req: DiscoveryRequest): void {
    t.ackedVersion = req.version_info;
    t.ackedNonce = req.response_nonce;
    this.ackWaiters.get(req.response_nonce)?.();
    this.ctx.emit('ack', { streamId: this.id, nodeId: this.nodeId, typeUrl: t.typeUrl, version: req.version_info, nonce: req.response_nonce });
  }

  private onNack(t: TypeState, req: DiscoveryRequest): void {
    const { code, message } = req.error_detail!;
    t.nackedNonce = req.response_nonce;
    t.lastNack = { nonce: req.response_nonce, version: t.sentVersion, code, message, at: new Date().toISOString() };
    this.ackWaiters.get(req.response_nonce)?.();
    this.ctx.logger.warn(`xds NACK from ${this.nodeId} for ${t.typeUrl} version ${t.sentVersion}: ${message}`);
    this.ctx.emit('nack', { streamId: this.id, nodeId: this.nodeId, typeUrl: t.typeUrl, version: req.version_info, nonce: req.response_nonce, code, message });
  }

  /** Applies resource_names; returns the names newly subscribed ('*' when wildcard was turned on). */
  private updateSubscription(t: TypeState, requested: string[]): string[] {
    let wildcard = false;
    const names = new Set<string>();
    for (const n of requested) {
      if (n === '*' && FULL_STATE.has(t.typeUrl)) wildcard = true;
      else names.add(n);
    }
    // Legacy wildcard: an empty list before the stream ever named anything (LDS/CDS only).
    if (requested.length === 0 && FULL_STATE.has(t.typeUrl) && !t.everNamed) wildcard = true;
    if (names.size > 0) t.everNamed = true;
    const added: string[] = [];
    if (wildcard && !t.wildcard) added.push('*');
    // Names the previous wildcard already covered are not new to the proxy.
    if (!wildcard && !t.wildcard) for (const n of names) if (!t.names.has(n)) added.push(n);
    // The proxy forgets what it unsubscribes: drop it so a later re-subscription resends it.
    for (const n of t.sent.keys()) if (!wildcard && !names.has(n)) t.sent.delete(n);
    t.wildcard = wildcard;
    t.names = names;
    return added;
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = true;
    setImmediate(() => void this.runLoop());
  }

  private async runLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.closed) return;
        const due = this.dueTypes();
        if (due.length === 0) return;
        let clusterNonce = '';
        for (const t of due) {
          if (this.closed) return;
          if (clusterNonce && (t.typeUrl === TYPE.listener || t.typeUrl === TYPE.route)) {
            await this.waitForAck(clusterNonce);
            clusterNonce = '';
          }
          if (!t.pending) continue;
          const nonce = await this.pushType(t);
          if (nonce && t.typeUrl === TYPE.cluster && this.ctx.clusterAckWaitMs > 0) clusterNonce = nonce;
        }
      }
    } catch (e) {
      this.ctx.logger.error(`xds stream ${this.id} (${this.nodeId}): push failed: ${errorText(e)}`);
    } finally {
      this.running = false;
      if (!this.closed && [...this.types.values()].some((t) => t.pending)) this.kick();
    }
  }

  private dueTypes(): TypeState[] {
    const rank = (u: string): number => {
      const i = PUSH_ORDER.indexOf(u);
      return i < 0 ? PUSH_ORDER.length : i;
    };
    return [...this.types.values()].filter((t) => t.pending).sort((a, b) => rank(a.typeUrl) - rank(b.typeUrl));
  }

  private waitForAck(nonce: string): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.ackWaiters.delete(nonce);
        resolve();
      };
      const timer = setTimeout(done, this.ctx.clusterAckWaitMs);
      this.ackWaiters.set(nonce, done);
      if (this.closed) done();
    });
  }

  /** Computes and sends one response for t if anything is due; returns its nonce. */
  private async pushType(t: TypeState): Promise<string | undefined> {
    t.pending = false;
    const forced = t.forced;
    t.forced = new Set();
    const full = FULL_STATE.has(t.typeUrl);
    if (!t.wildcard && t.names.size === 0) return undefined;
    let found: ReadonlyMap<string, object>;
    try {
      found = await this.ctx.source.resources(this.node!, t.typeUrl, t.wildcard ? '*' : [...t.names]);
      t.sourceError = undefined;
    } catch (e) {
      t.sourceError = errorText(e);
      this.ctx.logger.error(`xds source failed for ${this.nodeId} ${t.typeUrl}: ${t.sourceError}`);
      return undefined;
    }
    if (this.closed) return undefined;
    const current = this.encodeAll(t, found);
    const toSend: EncodedResource[] = [];
    let changed = current.size !== t.sent.size;
    for (const [name, enc] of current) {
      const prev = t.sent.get(name);
      const differs = prev?.hash !== enc.hash;
      if (differs) changed = true;
      if (full || differs || forced === 'all' || forced.has(name)) toSend.push(enc);
    }
    if (full) {
      const forcedAny = forced === 'all' || forced.size > 0;
      if (!changed && !forcedAny) return undefined;
    } else if (toSend.length === 0) {
      t.sent = current;
      return undefined;
    }
    const version = versionOf(current);
    const nonce = String(++this.nonceCounter);
    const resp: DiscoveryResponse = { version_info: version, resources: toSend.map((e) => e.any), type_url: t.typeUrl, nonce };
    if (this.ctx.controlPlaneId) resp.control_plane = { identifier: this.ctx.controlPlaneId };
    t.sent = current;
    t.sentVersion = version;
    t.nonce = nonce;
    const ok = this.call.write(resp);
    this.ctx.emit('push', { streamId: this.id, nodeId: this.nodeId, typeUrl: t.typeUrl, version, nonce,
      resourceNames: toSend.map((e) => e.name) });
    if (!ok) await this.waitDrain();
    return nonce;
  }

  /** Encodes the subscribed resources; one that cannot be encoded keeps its last good version. */
  private encodeAll(t: TypeState, found: ReadonlyMap<string, object>): Map<string, EncodedResource> {
    const out = new Map<string, EncodedResource>();
    t.encodeErrors = [];
    for (const [name, obj] of found) {
      if (!t.wildcard && !t.names.has(name)) continue;
      try {
        const enc = encodeResource(t.typeUrl, obj);
        if (enc.name !== name) throw new Error(`resource is named "${enc.name}" but was returned as "${name}"`);
        out.set(name, enc);
      } catch (e) {
        const error = errorText(e);
        t.encodeErrors.push({ name, error });
        this.ctx.logger.error(`xds: cannot encode ${t.typeUrl} "${name}" for ${this.nodeId}: ${error}`);
        const prev = t.sent.get(name);
        if (prev) out.set(name, prev);
      }
    }
    return out;
  }

  private waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.call.off('drain', done);
        this.closeWaiters.delete(done);
        resolve();
      };
      this.call.on('drain', done);
      this.closeWaiters.add(done);
      if (this.closed) done();
    });
  }
}
