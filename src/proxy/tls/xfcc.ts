// X-Forwarded-Client-Cert as Envoy's forward_client_cert_details says, with our entry written as
// By=<our SPIFFE ID>;Hash=<sha256 of the peer certificate DER>;Subject="<peer subject>";URI=<peer SPIFFE ID>.
// A request that did not come with a client certificate loses any XFCC it carries (it could be
// forged), except under ALWAYS_FORWARD_ONLY; Istio's sidecars append, its gateways replace.
import { peerOf } from './downstream.js';
import type { XfccMode } from '../hcm/config.js';

const XFCC = 'x-forwarded-client-cert';
const cache = new WeakMap<object, string>();

export function applyXfcc(headers: Record<string, string | string[] | undefined>, socket: unknown, mode: XfccMode): void {
  const p = peerOf(socket);
  if (!p) {
    if (mode !== 'ALWAYS_FORWARD_ONLY') delete headers[XFCC];
    return;
  }
  if (mode === 'FORWARD_ONLY' || mode === 'ALWAYS_FORWARD_ONLY') return;
  if (mode === 'SANITIZE') {
    delete headers[XFCC];
    return;
  }
  let own = cache.get(p);
  if (own === undefined) {
    // As Envoy writes it: By only when our certificate has a URI SAN, URI only when the peer's has one
    // (a gateway's user certificate and its clients' usually have none). Built once per peer
    // certificate: the PeerInfo is shared by the connections of one verified certificate.
    own = `${p.localSpiffe ? `By=${p.localSpiffe};` : ''}Hash=${p.peerHash};Subject="${p.peerSubject.replace(/"/g, '\\"')}"${p.peerSpiffe ? `;URI=${p.peerSpiffe}` : ''}`;
    cache.set(p, own);
  }
  const prev = mode === 'APPEND_FORWARD' ? headers[XFCC] : undefined;
  headers[XFCC] = prev ? `${Array.isArray(prev) ? prev.join(',') : prev},${own}` : own;
}
