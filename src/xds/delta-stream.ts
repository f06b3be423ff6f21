// One Delta (incremental) ADS stream: per-resource versions (content hashes), only changes are
// sent, deletions and non-existence go in removed_resources, subscription changes are honoured
// whatever the nonce, and a reconnecting client's initial_resource_versions spare resends.
import { sharedDeltaResponse, versionOf, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from './codec.js';
import { AdsStreamBase, deltaOf, encodedSize, FULL_STATE, internNames, NAMESPACED, startsEmpty, type TypeState } from './stream-base.js';

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
      const held = Object.entries(req.initial_resource_versions);
      if (held.length > 0) t.sent = new Map(held.map(([name, version]) => [name, { name, hash: version, any: NO_BYTES }]));
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
    if (req.resource_names_subscribe.length === 0 && req.resource_names_unsubscribe.length === 0) return added;
    // Copy on write: t.names may be shared with alike streams (internNames).
    const names = new Set(t.names);
    for (const n of req.resource_names_subscribe) {
      if (n === '*' && wildcardType) {
        added ||= !t.wildcard;
        t.wildcard = true;
      } else if (!names.has(n)) {
        names.add(n);
        if (t.forced !== 'all') t.forced.add(n);
        added = true;
      }
    }
    for (const n of req.resource_names_unsubscribe) {
      if (n === '*' && wildcardType) t.wildcard = false;
      else names.delete(n);
    }
    const shared = internNames(names);
    t.names = shared.names;
    t.namesList = shared.list;
    t.coveredBy = undefined;
    // The client drops what it unsubscribes: forget it so a re-subscription sends it again.
    if (req.resource_names_unsubscribe.length > 0) this.dropUnsubscribed(t);
    return added;
  }

  protected async pushType(t: TypeState, gate?: () => Promise<void>): Promise<string | undefined> {
    t.pending = false;
    const forced = t.forced;
    t.forced = new Set();
    if (!t.wildcard && t.names.size === 0) return undefined;
    const current = await this.fetch(t);
    if (!current) return undefined;
    // The same shared result as the stream holds: nothing changed.
    if (current === t.sent && forced !== 'all' && forced.size === 0) return undefined;
    const diff = deltaOf(t.sent, current);
    const toSend = diff.changed;
    const removed = [...diff.removed];
    // Newly subscribed names that do not exist: say so rather than let the client wait. A namespace
    // (VHDS: a route config name) is no resource: a newly subscribed one is answered, if it holds
    // nothing new, by an empty response, so the client knows it has all there is.
    const namespaced = NAMESPACED.has(t.typeUrl);
    if (forced !== 'all' && !namespaced) for (const name of forced) if (!current.has(name) && !t.sent.has(name)) removed.push(name);
    const answerNamespaces = namespaced && (forced === 'all' || forced.size > 0);
    // A new client is always answered, even with nothing (e.g. a gateway's wildcard LDS before any
    // Gateway exists): like Envoy, the Weft sidecar is not ready before its first LDS/CDS response.
    const firstAnswer = startsEmpty(t);
    if (toSend.length === 0 && removed.length === 0 && !answerNamespaces && !firstAnswer) {
      // The client already holds exactly this (a reconnect listing initial_resource_versions): in
      // sync without a response; holding the shared Map lets its next change be shared too.
      t.sent = current;
      if (t.nonce === '') t.sentVersion = t.ackedVersion = versionOf(current);
      return undefined;
    }
    if (gate) {
      await gate();
      if (this.closed) return undefined;
    }
    const version = versionOf(current);
    // Alike streams making the same change write the same bytes (one encoding, a shared nonce).
    if (removed.length === diff.removed.length && !this.ctx.controlPlaneId) {
      const shared = sharedDeltaResponse(diff, t.typeUrl, version, t.sharedSeq);
      t.sharedSeq = shared.seq;
      const resp: DeltaDiscoveryResponse = { system_version_info: version, type_url: t.typeUrl, nonce: shared.nonce, removed_resources: [], resources: [], encoded: shared.bytes };
      return this.sendResponse(t, current, version, shared.nonce, resp, toSend.map((e) => e.name), shared.bytes.length);
    }
    const nonce = String(++this.nonceCounter);
    const resp: DeltaDiscoveryResponse = {
      system_version_info: version, type_url: t.typeUrl, nonce, removed_resources: removed,
      resources: toSend.map((e) => ({ name: e.name, version: e.hash, resource: e.any })),
    };
    if (this.ctx.controlPlaneId) resp.control_plane = { identifier: this.ctx.controlPlaneId };
    return this.sendResponse(t, current, version, nonce, resp, toSend.map((e) => e.name), encodedSize(toSend));
  }
}
