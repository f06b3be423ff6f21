// One Delta (incremental) ADS stream: per-resource versions (content hashes), only changes are
// sent, deletions and non-existence go in removed_resources, subscription changes are honoured
// whatever the nonce, and a reconnecting client's initial_resource_versions spare resends.
import { versionOf, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type EncodedResource } from './codec.js';
import { AdsStreamBase, encodedSize, FULL_STATE, type TypeState } from './stream-base.js';

/** Stands in for a resource the client reported having: only its hash (version) is known. */
const NO_BYTES = { type_url: '', value: new Uint8Array() };

export class DeltaStream extends AdsStreamBase<DeltaDiscoveryResponse> {
  /** Handles one DeltaDiscoveryRequest. Never throws. */
  onRequest(req: DeltaDiscoveryRequest): void {
    if (this.closed || !this.ensureNode(req.node)) return;
    if (!req.type_url) {
      this.ctx.logger.warn(`xds delta stream ${this.id} (${this.nodeId}): request without type_url ignored`);
      return;
    }
    const first = !this.types.has(req.type_url);
    const t = this.typeState(req.type_url);
    // The nonce only correlates ACK/NACK; a stale one still carries valid subscription changes.
    if (req.response_nonce !== '' && req.response_nonce === t.nonce) {
      if (req.error_detail) this.recordNack(t, req.response_nonce, '', req.error_detail);
      else this.recordAck(t, req.response_nonce, t.sentVersion);
    }
    if (first) {
      for (const [name, version] of Object.entries(req.initial_resource_versions)) t.sent.set(name, { name, hash: version, any: NO_BYTES });
      t.pending = true;
    }
    if (this.updateSubscription(t, req, first)) t.pending = true;
    if (t.pending) this.kick();
  }

  /** Applies subscribe/unsubscribe lists; true when something was added. */
  private updateSubscription(t: TypeState, req: DeltaDiscoveryRequest, first: boolean): boolean {
    const wildcardType = FULL_STATE.has(t.typeUrl);
    let added = false;
    if (first && wildcardType && req.resource_names_subscribe.length === 0) {
      t.wildcard = true;
      added = true;
    }
    for (const n of req.resource_names_subscribe) {
      if (n === '*' && wildcardType) {
        added ||= !t.wildcard;
        t.wildcard = true;
      } else if (!t.names.has(n)) {
        t.names.add(n);
        if (t.forced !== 'all') t.forced.add(n);
        added = true;
      }
    }
    for (const n of req.resource_names_unsubscribe) {
      if (n === '*' && wildcardType) t.wildcard = false;
      else t.names.delete(n);
    }
    // The client drops what it unsubscribes: forget it so a re-subscription sends it again.
    if (req.resource_names_unsubscribe.length > 0) this.dropUnsubscribed(t);
    if (req.resource_names_subscribe.length > 0 || req.resource_names_unsubscribe.length > 0) {
      t.namesList = undefined;
      t.coveredBy = undefined;
    }
    return added;
  }

  protected async pushType(t: TypeState, gate?: () => Promise<void>): Promise<string | undefined> {
    t.pending = false;
    const forced = t.forced;
    t.forced = new Set();
    if (!t.wildcard && t.names.size === 0) return undefined;
    const current = await this.fetch(t);
    if (!current) return undefined;
    const toSend: EncodedResource[] = [];
    for (const [name, enc] of current) if (t.sent.get(name)?.hash !== enc.hash) toSend.push(enc);
    const removed: string[] = [];
    for (const name of t.sent.keys()) if (!current.has(name)) removed.push(name);
    // Newly subscribed names that do not exist: say so rather than let the client wait.
    if (forced !== 'all') for (const name of forced) if (!current.has(name) && !t.sent.has(name)) removed.push(name);
    if (toSend.length === 0 && removed.length === 0) return undefined;
    if (gate) {
      await gate();
      if (this.closed) return undefined;
    }
    const version = versionOf(current);
    const nonce = String(++this.nonceCounter);
    const resp: DeltaDiscoveryResponse = {
      system_version_info: version, type_url: t.typeUrl, nonce, removed_resources: removed,
      resources: toSend.map((e) => ({ name: e.name, version: e.hash, resource: e.any })),
    };
    if (this.ctx.controlPlaneId) resp.control_plane = { identifier: this.ctx.controlPlaneId };
    return this.sendResponse(t, current, version, nonce, resp, toSend.map((e) => e.name), encodedSize(toSend));
  }
}
