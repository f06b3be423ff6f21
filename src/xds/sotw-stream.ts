// One State-of-the-World ADS stream: per type URL it tracks the subscription, what the proxy was
// sent (per-resource hash), version, nonce and ACK/NACK, and pushes what differs, in push order.
import { sharedResponse, versionOf, type DiscoveryRequest, type DiscoveryResponse, type EncodedResource } from './codec.js';
import { AdsStreamBase, encodedSize, FULL_STATE, internNames, type TypeState } from './stream-base.js';

export class SotwStream extends AdsStreamBase<DiscoveryResponse> {
  /** Handles one DiscoveryRequest. Never throws. */
  onRequest(req: DiscoveryRequest): void {
    if (this.closed || !this.ensureNode(req.node)) return;
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.ctx.logger.warn(`xds stream ${this.id} (${this.nodeId}): request without type_url ignored`);
      return;
    }
    const t = this.typeState(typeUrl);
    if (req.response_nonce !== '') {
      // Only the latest nonce counts: an older one answers a response the proxy has since replaced.
      if (req.response_nonce !== t.nonce) return;
      if (req.error_detail) this.recordNack(t, req.response_nonce, req.version_info, req.error_detail);
      else this.recordAck(t, req.response_nonce, req.version_info);
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
    // An explicit "*" counts as naming: after it, an empty list unsubscribes.
    if (requested.length > 0) t.everNamed = true;
    const added: string[] = [];
    if (wildcard && !t.wildcard) added.push('*');
    // Names the previous wildcard already covered are not new to the proxy.
    if (!wildcard && !t.wildcard) for (const n of names) if (!t.names.has(n)) added.push(n);
    // Most requests (ACKs) repeat the subscription: keep the same Set so cached lookups stay valid.
    const sameNames = !wildcard && !t.wildcard && added.length === 0 && names.size === t.names.size;
    t.wildcard = wildcard;
    if (!sameNames) {
      const shared = internNames(names);
      t.names = shared.names;
      t.namesList = shared.list;
      t.coveredBy = undefined;
    }
    // The proxy forgets what it unsubscribes: drop it so a later re-subscription resends it.
    this.dropUnsubscribed(t);
    return added;
  }

  protected async pushType(t: TypeState, gate?: () => Promise<void>): Promise<string | undefined> {
    t.pending = false;
    const forced = t.forced;
    t.forced = new Set();
    const full = FULL_STATE.has(t.typeUrl);
    if (!t.wildcard && t.names.size === 0) return undefined;
    const current = await this.fetch(t);
    if (!current) return undefined;
    // The same shared result as last time: nothing changed.
    if (current === t.sent && forced !== 'all' && forced.size === 0) return undefined;
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
    if (gate) {
      await gate();
      if (this.closed) return undefined;
    }
    const version = versionOf(current);
    // Everything in `current` goes out (always for LDS/CDS): alike streams write the same bytes.
    if (toSend.length === current.size && !this.ctx.controlPlaneId) {
      const shared = sharedResponse(current, t.typeUrl, version, t.sharedSeq);
      t.sharedSeq = shared.seq;
      const resp: DiscoveryResponse = { version_info: version, resources: [], type_url: t.typeUrl, nonce: shared.nonce, encoded: shared.bytes };
      return this.sendResponse(t, current, version, shared.nonce, resp, toSend.map((e) => e.name), shared.bytes.length);
    }
    const nonce = String(++this.nonceCounter);
    const resp: DiscoveryResponse = { version_info: version, resources: toSend.map((e) => e.any), type_url: t.typeUrl, nonce };
    if (this.ctx.controlPlaneId) resp.control_plane = { identifier: this.ctx.controlPlaneId };
    return this.sendResponse(t, current, version, nonce, resp, toSend.map((e) => e.name), encodedSize(toSend));
  }
}
