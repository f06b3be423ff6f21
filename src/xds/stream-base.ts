// What every ADS stream (SotW and Delta) shares: the cached node, per-type state, the push loop
// that runs due types in make-before-break order (optionally waiting for the Cluster ACK before
// Listeners/Routes), ACK/NACK bookkeeping, status, and encoding with keep-last-good.
import { createHash } from 'node:crypto';
import { PUSH_ORDER, TYPE } from './protos.js';
import { encodeResource, nodeInfoFromProto, VIRTUAL_HOST_URL, type EncodedResource } from './codec.js';
import type { NodeInfo, ResourceSource, TypeSyncStatus, XdsAuthResult, XdsLogger, XdsPeer, XdsServerEvents } from './types.js';
import type { SendBudget } from './send-budget.js';

/** Types whose every SotW response must carry the full subscribed set, and which accept wildcards. */
export const FULL_STATE = new Set<string>([TYPE.listener, TYPE.cluster]);

/**
 * Types subscribed by namespace (Envoy's `use_namespace_matching`): VHDS subscribes to a route
 * config's name and gets every virtual host named `<that name>/<host>`. A host name has no slash
 * (a route config name may), so the namespace is what precedes the last one.
 */
export const NAMESPACED = new Set<string>([VIRTUAL_HOST_URL]);

/** The namespace of a resource name of a NAMESPACED type ('' when it has none). */
export function namespaceOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash > 0 ? name.slice(0, slash) : '';
}

/** Whether t's subscription covers the resource `name` (by name, wildcard, or namespace). */
export function subscribes(t: Pick<TypeState, 'typeUrl' | 'wildcard' | 'names'>, name: string): boolean {
  if (t.wildcard || t.names.has(name)) return true;
  return NAMESPACED.has(t.typeUrl) && t.names.has(namespaceOf(name));
}

export interface TypeState {
  typeUrl: string;
  wildcard: boolean;
  names: Set<string>;
  /** The stream named resources for this type at least once: an empty list then means "none". */
  everNamed: boolean;
  /** What the proxy holds, as far as we know: what we last sent it. */
  sent: Map<string, EncodedResource>;
  sentVersion: string;
  nonce: string;
  /** Sequence number of the last shared response (see sharedResponse) sent for this type, 0 when none. */
  sharedSeq: number;
  ackedVersion: string;
  ackedNonce: string;
  nackedNonce: string;
  lastNack?: TypeSyncStatus['lastNack'];
  encodeErrors: { name: string; error: string }[];
  sourceError?: string;
  pending: boolean;
  /** Names to send even when unchanged (newly subscribed), or 'all' after a fresh subscription. */
  forced: Set<string> | 'all';
  /** `names` as the array handed to the source; reset whenever `names` changes (a stable identity lets sources cache). */
  namesList?: string[];
  /** The last shared result found to cover exactly `namesList`: skips re-checking thousands of names per push. */
  coveredBy?: ReadonlyMap<string, object>;
}

export interface StreamContext {
  source: ResourceSource;
  logger: XdsLogger;
  clusterAckWaitMs: number;
  controlPlaneId?: string;
  emit<E extends keyof XdsServerEvents>(event: E, ...args: XdsServerEvents[E]): void;
  /** Whether anyone listens (building a push event's name list is not free). */
  listens(event: keyof XdsServerEvents): boolean;
  /** Server-wide cap on written, not yet flushed response bytes. */
  sendBudget?: SendBudget;
  /** The stream's transport identity (TLS client certificate), handed to the source. */
  transport?: XdsPeer;
  /** XdsServerOptions.authenticate; `deny` ends the call with PERMISSION_DENIED. */
  authenticate?: (node: NodeInfo, peer: XdsPeer) => XdsAuthResult;
  deny?: (message: string) => void;
}

/** The part of a gRPC server stream the ADS streams use. */
export interface WritableCall<T> {
  /** `done` runs once the message has been handed to HTTP/2 (or failed). */
  write(msg: T, done?: (err?: Error | null) => void): boolean;
  end(): void;
  on(event: 'drain', f: () => void): unknown;
  off(event: 'drain', f: () => void): unknown;
}

/**
 * Alike proxies subscribe to the same names (thousands of EDS names each): they share one Set and
 * one array, so a stream's memory is little more than its state. Never mutated (a subscription change
 * replaces the Set). Keyed by the list (a hash of it when long); the last few lists are kept.
 */
const nameLists = new Map<string, { names: ReadonlySet<string>; list: string[] }>();
const NAME_LISTS_KEPT = 64;

export function internNames(names: Set<string>): { names: Set<string>; list: string[] } {
  // Small lists too (a VHDS subscription is one route config name): an unshared Set made every
  // stream re-check a shared result's thousand names (covers()), 100k checks per push at 100 proxies.
  const list = [...names];
  const joined = list.join('\n');
  const key = list.length < 8 ? `=${joined}` : createHash('sha1').update(joined).digest('base64');
  const hit = nameLists.get(key);
  if (hit && hit.list.length === list.length && hit.list.every((n, i) => n === list[i])) {
    nameLists.delete(key); // most recently used last
    nameLists.set(key, hit);
    return hit as { names: Set<string>; list: string[] };
  }
  const entry = { names, list };
  nameLists.set(key, entry);
  if (nameLists.size > NAME_LISTS_KEPT) nameLists.delete(nameLists.keys().next().value!);
  return entry;
}

/**
 * Shared results (by source Map) found to be covered by a subscription (by its names Set, which
 * alike streams share: see internNames), so thousands of names are checked once, not per stream.
 */
const coverage = new WeakMap<ReadonlyMap<string, object>, WeakSet<ReadonlySet<string>>>();

/**
 * What a stream that holds `sent` must be sent to hold `current` (Delta): alike streams hold the
 * same shared Map and get the same next one, so the difference is computed once for all of them.
 */
const deltas = new WeakMap<ReadonlyMap<string, EncodedResource>, WeakMap<ReadonlyMap<string, EncodedResource>, { changed: EncodedResource[]; removed: string[] }>>();

export function deltaOf(sent: ReadonlyMap<string, EncodedResource>, current: ReadonlyMap<string, EncodedResource>): { changed: EncodedResource[]; removed: string[] } {
  let byCurrent = deltas.get(sent);
  if (!byCurrent) deltas.set(sent, (byCurrent = new WeakMap()));
  let d = byCurrent.get(current);
  if (!d) {
    const changed: EncodedResource[] = [];
    for (const [name, enc] of current) if (sent.get(name)?.hash !== enc.hash) changed.push(enc);
    const removed: string[] = [];
    for (const name of sent.keys()) if (!current.has(name)) removed.push(name);
    byCurrent.set(current, (d = { changed, removed }));
  }
  return d;
}

/**
 * Encoded results per source Map. Contract (see ResourceSource): a returned Map and its resources
 * are never mutated afterwards; a change returns a new Map. Results are shared, never mutated.
 */
const sharedResults = new WeakMap<ReadonlyMap<string, object>, Map<string, Map<string, EncodedResource>>>();

const DRAIN_TIMEOUT_MS = 10_000;

/**
 * What a new stream holds and subscribes to: one shared empty Map and Set (never mutated; changes
 * replace them), so alike new streams share their first difference and its encoding (deltaOf).
 */
const NOTHING_SENT: Map<string, EncodedResource> = new Map();

/** Nothing was ever sent for t and the client said it holds nothing (no initial_resource_versions). */
export function startsEmpty(t: TypeState): boolean {
  return t.nonce === '' && t.sent === NOTHING_SENT;
}
const NO_NAMES: Set<string> = new Set();

/** About the encoded size of a response carrying these resources (for the send budget). */
export function encodedSize(resources: readonly EncodedResource[]): number {
  let n = 64;
  for (const e of resources) n += e.any.value.length + e.name.length + 16;
  return n;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export abstract class AdsStreamBase<Resp> {
  node: NodeInfo | undefined;
  readonly connectedAt = new Date().toISOString();
  readonly types = new Map<string, TypeState>();
  protected nonceCounter = 0;
  private running = false;
  protected closed = false;
  private readonly ackWaiters = new Map<string, () => void>();
  private readonly closeWaiters = new Set<() => void>();
  /** Budget bytes this stream's unflushed writes hold (given back at close if never flushed). */
  private budgetHeld = 0;
  private transportPeer: XdsPeer | undefined;

  constructor(readonly id: number, readonly peer: string, protected readonly call: WritableCall<Resp>, protected readonly ctx: StreamContext) {}

  get nodeId(): string {
    return this.node?.id ?? '';
  }

  /**
   * Computes and sends one response for t if anything is due; returns its nonce. `gate`, when
   * given, is awaited just before sending (make-before-break), never when nothing is to be sent.
   */
  protected abstract pushType(t: TypeState, gate?: () => Promise<void>): Promise<string | undefined>;

  /**
   * Caches the node from the first request of the stream and authenticates it (before anything is
   * served or announced). False: the stream was refused and closed.
   */
  protected ensureNode(node: Record<string, unknown> | undefined): boolean {
    if (this.node) return true;
    const info = nodeInfoFromProto(node);
    if (!node) this.ctx.logger.warn(`xds stream ${this.id} (${this.peer}): first request carries no node`);
    if (this.ctx.authenticate) {
      let r: XdsAuthResult;
      try {
        r = this.ctx.authenticate(info, this.transport);
      } catch (e) {
        r = { denied: `authentication failed: ${errorText(e)}` };
      }
      if ('denied' in r) {
        this.ctx.logger.warn(`xds stream ${this.id} (${this.peer}) node "${info.id}" refused: ${r.denied}`);
        this.close('permission denied');
        this.ctx.deny?.(r.denied);
        return false;
      }
      this.transport = { ...this.transport, principal: r.principal };
    }
    this.node = info;
    this.ctx.emit('connect', { streamId: this.id, node: this.node, peer: this.peer });
    return true;
  }

  /** Who the transport (and authenticate) proved this stream to be. */
  get transport(): XdsPeer {
    return this.transportPeer ??= this.ctx.transport ?? { address: this.peer };
  }

  set transport(p: XdsPeer) {
    this.transportPeer = p;
  }

  protected typeState(typeUrl: string): TypeState {
    let t = this.types.get(typeUrl);
    if (!t) {
      t = { typeUrl, wildcard: false, names: NO_NAMES, everNamed: false, sent: NOTHING_SENT, sentVersion: '', nonce: '', sharedSeq: 0, ackedVersion: '',
        ackedNonce: '', nackedNonce: '', encodeErrors: [], pending: false, forced: new Set() };
      this.types.set(typeUrl, t);
    }
    return t;
  }

  protected recordAck(t: TypeState, nonce: string, version: string): void {
    t.ackedVersion = version;
    t.ackedNonce = nonce;
    this.ackWaiters.get(nonce)?.();
    this.ctx.emit('ack', { streamId: this.id, nodeId: this.nodeId, typeUrl: t.typeUrl, version, nonce });
  }

  protected recordNack(t: TypeState, nonce: string, clientVersion: string, error: { code: number; message: string }): void {
    const { code, message } = error;
    t.nackedNonce = nonce;
    t.lastNack = { nonce, version: t.sentVersion, code, message, at: new Date().toISOString() };
    this.ackWaiters.get(nonce)?.();
    this.ctx.logger.warn(`xds NACK from ${this.nodeId} for ${t.typeUrl} version ${t.sentVersion}: ${message}`);
    this.ctx.emit('nack', { streamId: this.id, nodeId: this.nodeId, typeUrl: t.typeUrl, version: clientVersion, nonce, code, message });
  }

  /** Asks the source for t's subscribed resources and encodes them; undefined when the source failed. */
  protected async fetch(t: TypeState): Promise<Map<string, EncodedResource> | undefined> {
    let found: ReadonlyMap<string, object>;
    try {
      found = await this.ctx.source.resources(this.node!, t.typeUrl, t.wildcard ? '*' : (t.namesList ??= [...t.names]), this.transport);
      if (!(found instanceof Map)) throw new Error(`ResourceSource.resources() returned ${typeof found}, not a Map`);
      t.sourceError = undefined;
    } catch (e) {
      t.sourceError = errorText(e);
      this.ctx.logger.error(`xds source failed for ${this.nodeId} ${t.typeUrl}: ${t.sourceError}`);
      return undefined;
    }
    if (this.closed) return undefined;
    // Identical proxies usually get the very same Map from the source: encode and hash it once.
    const shared = sharedResults.get(found)?.get(t.typeUrl);
    if (shared && (t.wildcard || t.coveredBy === found || this.covers(t, found))) {
      if (!t.wildcard) t.coveredBy = found;
      t.encodeErrors = [];
      return shared;
    }
    const current = this.encodeAll(t, found);
    if (t.encodeErrors.length === 0 && current.size === found.size) {
      let byType = sharedResults.get(found);
      if (!byType) sharedResults.set(found, (byType = new Map()));
      byType.set(t.typeUrl, current);
    }
    return current;
  }

  /** Whether every resource of `found` is subscribed by t; checked once per (Map, subscription) for all streams. */
  private covers(t: TypeState, found: ReadonlyMap<string, object>): boolean {
    const known = coverage.get(found);
    if (known?.has(t.names)) return true;
    for (const n of found.keys()) if (!subscribes(t, n)) return false;
    if (known) known.add(t.names);
    else coverage.set(found, new WeakSet([t.names]));
    return true;
  }

  /** Forgets sent resources the proxy no longer subscribes to (copy on write: `sent` may be shared). */
  protected dropUnsubscribed(t: TypeState): void {
    if (t.wildcard) return;
    let kept: Map<string, EncodedResource> | undefined;
    for (const n of t.sent.keys()) {
      if (subscribes(t, n)) continue;
      kept ??= new Map(t.sent);
      kept.delete(n);
    }
    if (kept) t.sent = kept;
  }

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
    if (this.budgetHeld > 0) this.ctx.sendBudget?.release(this.budgetHeld);
    this.budgetHeld = 0;
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
    // Nothing sent yet but acknowledged: a Delta client that already held it all (initial_resource_versions).
    const status = t.nonce === '' ? (t.ackedVersion !== '' ? 'SYNCED' : 'NOT SENT') : t.nackedNonce === t.nonce ? 'NACKED' : t.ackedNonce === t.nonce ? 'SYNCED' : 'STALE';
    const s: TypeSyncStatus = {
      typeUrl: t.typeUrl, subscription: { wildcard: t.wildcard, names: [...t.names].sort() },
      sentVersion: t.sentVersion, ackedVersion: t.ackedVersion, nonce: t.nonce, resourceCount: t.sent.size,
      encodeErrors: [...t.encodeErrors], status,
    };
    if (t.lastNack) s.lastNack = { ...t.lastNack };
    if (t.sourceError) s.sourceError = t.sourceError;
    return s;
  }

  protected kick(): void {
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
        // Listeners and routes that have something to send first wait for the Clusters' ACK.
        const gate = async (): Promise<void> => {
          if (!clusterNonce) return;
          await this.waitForAck(TYPE.cluster, clusterNonce);
          clusterNonce = '';
        };
        for (const t of due) {
          if (this.closed) return;
          if (!t.pending) continue;
          const gated = t.typeUrl === TYPE.listener || t.typeUrl === TYPE.route;
          const nonce = await this.pushType(t, gated ? gate : undefined);
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

  /** Resolves on the ACK/NACK of `nonce` for typeUrl (at once if it already came), on timeout or close. */
  private waitForAck(typeUrl: string, nonce: string): Promise<void> {
    const t = this.types.get(typeUrl);
    if (!t || t.ackedNonce === nonce || t.nackedNonce === nonce || t.nonce !== nonce) return Promise.resolve();
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
  protected encodeAll(t: TypeState, found: ReadonlyMap<string, object>): Map<string, EncodedResource> {
    const out = new Map<string, EncodedResource>();
    t.encodeErrors = [];
    for (const [name, obj] of found) {
      if (!subscribes(t, name)) continue;
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

  /** Backpressure: wait for the write buffer to drain, but never let one stuck stream stall forever. */
  /**
   * Writes a response and records what the stream now holds: the same for SotW and Delta.
   * Returns the nonce once the write buffer has room again.
   */
  protected async sendResponse(t: TypeState, current: Map<string, EncodedResource>, version: string, nonce: string,
    resp: Resp, sentNames: readonly string[], bytes: number): Promise<string | undefined> {
    const budget = this.ctx.sendBudget;
    if (budget) {
      const wait = budget.acquire(bytes);
      if (wait) await wait;
      if (this.closed) {
        budget.release(bytes);
        return undefined;
      }
      this.budgetHeld += bytes;
    }
    t.sent = current;
    t.sentVersion = version;
    t.nonce = nonce;
    let released = false;
    const ok = this.call.write(resp, () => {
      if (released || !budget || this.closed) return;
      released = true;
      this.budgetHeld -= bytes;
      budget.release(bytes);
    });
    if (this.ctx.listens('push')) {
      this.ctx.emit('push', { streamId: this.id, nodeId: this.nodeId, typeUrl: t.typeUrl, version, nonce, resourceNames: [...sentNames] });
    }
    if (!ok) await this.waitDrain();
    return nonce;
  }

  protected waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.call.off('drain', done);
        this.closeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.ctx.logger.warn(`xds stream ${this.id} (${this.nodeId}): write buffer not drained after ${DRAIN_TIMEOUT_MS} ms; going on`);
        done();
      }, DRAIN_TIMEOUT_MS);
      this.call.on('drain', done);
      this.closeWaiters.add(done);
      if (this.closed) done();
    });
  }
}