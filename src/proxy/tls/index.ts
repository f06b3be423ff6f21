// TLS in the sidecar: SDS secrets, upstream origination (mTLS, auto mTLS), downstream termination
// with PERMISSIVE detection, and XFCC. Hooks: upstream/cluster.ts + endpoint.ts (connect),
// listener/compile.ts + dispatch.ts (accept), proxy.ts (SDS updates, /config_dump secrets).
import type { FilterChain } from '../listener/compile.js';
import { type Obj, arr, obj, str } from '../wire.js';
import type { SecretStore } from './secrets.js';
import type { Logger } from '../env.js';
import { type DownstreamTls, compileDownstreamTls as compileDownstream } from './downstream.js';

export { SecretStore, SECRET_TYPE } from './secrets.js';
export { type TransportSelector, UpstreamTls, compileUpstreamTransport } from './upstream.js';
export { DownstreamTls, peerOf, compileDownstreamTls } from './downstream.js';
export { SniTable, chainOf } from './sni.js';
export { applyXfcc } from './xfcc.js';

/** A listener's TLS filter chain: how to terminate TLS, and whether plaintext is also served. */
export interface ListenerTls { readonly ctx: DownstreamTls; readonly chain: FilterChain; plaintext: boolean }

/** A filter chain matching transport_protocol 'tls' with a DownstreamTlsContext, compiled; else null. */
export function tlsChain(fc: Obj, chain: FilterChain | null, secrets: SecretStore, log: Logger, path: string): ListenerTls | null {
  const m = obj(fc.filter_chain_match, `${path}.filter_chain_match`);
  if (str(m.transport_protocol, `${path}.filter_chain_match.transport_protocol`) !== 'tls' || !chain) return null;
  if (arr(m.server_names, `${path}.filter_chain_match.server_names`).length > 0) return null;
  const ctx = compileDownstream(fc.transport_socket, secrets, log, `${path}.transport_socket`);
  return ctx ? { ctx, chain, plaintext: false } : null;
}
