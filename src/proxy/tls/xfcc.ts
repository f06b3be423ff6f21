// X-Forwarded-Client-Cert on inbound mTLS requests (Envoy's APPEND_FORWARD with subject, URI):
// By=<our SPIFFE ID>;Hash=<sha256 of the peer certificate DER>;Subject="<peer subject>";URI=<peer SPIFFE ID>.
// A request that did not come over mTLS loses any XFCC it carries (it could be forged).
import { createHash } from 'node:crypto';
import { peerOf } from './downstream.js';

const XFCC = 'x-forwarded-client-cert';
const cache = new WeakMap<object, string>();

export function applyXfcc(headers: Record<string, string | string[] | undefined>, socket: unknown): void {
  const p = peerOf(socket);
  if (!p) {
    delete headers[XFCC];
    return;
  }
  let own = cache.get(p);
  if (own === undefined) {
    own = `By=${p.localSpiffe};Hash=${createHash('sha256').update(p.peerDer).digest('hex')};Subject="${p.peerSubject.replace(/"/g, '\\"')}";URI=${p.peerSpiffe}`;
    cache.set(p, own);
  }
  const prev = headers[XFCC];
  headers[XFCC] = prev ? `${Array.isArray(prev) ? prev.join(',') : prev},${own}` : own;
}
