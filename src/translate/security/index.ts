// Security in translation: inbound listeners get mTLS filter chains per PeerAuthentication, outbound
// clusters get TLS origination per DestinationRule tls.mode or Istio's auto mTLS. Hooks: translate.ts
// (inbound listeners) and cds.ts (outbound clusters) call these.
import { trustDomainBundle, type ClientTLSSettings, type Workload } from '../../model/index.js';
import type { MeshService, Registry, ServicePortInfo } from '../../registry/index.js';
import type { Obj } from '../envoy.js';
import { mtlsModeFor } from './peer-authentication.js';
import { downstreamIstioMutual, upstreamIstioMutual, upstreamUserTls } from './tls.js';

export { mtlsModeFor, type EffectiveMtls } from './peer-authentication.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };

/** The HCM forwards the peer identity to the app (X-Forwarded-Client-Cert), as Istio's inbound does. */
function withXfcc(filters: Obj[]): Obj[] {
  return filters.map((f) => {
    const tc = f.typed_config as Obj | undefined;
    if (tc?.['@type'] !== HCM) return f;
    return { ...f, typed_config: { ...tc, forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true } } };
  });
}

/** Whether a cluster's protocol options say HTTP/2 (set before TLS, by the connection pool settings). */
function speaksH2(c: Obj): boolean {
  const opts = (c.typed_extension_protocol_options as Obj | undefined)?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'] as Obj | undefined;
  return (opts?.explicit_http_config as Obj | undefined)?.http2_protocol_options !== undefined;
}

/** Rewrites an inbound `<ADDRESS>_<port>` listener's chains for the workload port's mTLS mode. */
export function withInboundMtls(registry: Registry, workload: Workload, port: number, listener: Obj): Obj {
  const mode = mtlsModeFor(registry.snapshot, workload, port);
  if (mode === 'DISABLE') return listener;
  const [plain] = listener.filter_chains as Obj[];
  const filters = withXfcc(plain.filters as Obj[]);
  const tlsChain: Obj = { name: `${listener.name as string}_mtls`, filter_chain_match: { transport_protocol: 'tls' }, filters,
    transport_socket: downstreamIstioMutual(trustDomainBundle(registry.snapshot.mesh)) }; // the trust domain and its aliases
  const chains = mode === 'STRICT' ? [tlsChain] : [tlsChain, { ...plain, name: `${listener.name as string}_plaintext`, filter_chain_match: { transport_protocol: 'raw_buffer' } }];
  return { ...listener, listener_filters: [TLS_INSPECTOR], filter_chains: chains };
}

/**
 * SPIFFE identities of the workloads behind a service port (what the server may present), in the
 * trust domain and each alias (Istio's spiffe.ExpandWithTrustDomains): a server still holding a
 * certificate of an alias domain passes the client's SAN check during a trust domain migration.
 */
function serverIdentities(registry: Registry, svc: MeshService, port: number): { sans: string[]; allSidecars: boolean } {
  const eps = registry.endpoints(svc, port);
  const tds = trustDomainBundle(registry.snapshot.mesh);
  const ids = eps.filter((e) => e.origin.startsWith('Workload/')).flatMap((e) => tds.map((td) => `spiffe://${td}/ns/${e.namespace}/sa/${e.serviceAccount ?? 'default'}`));
  const sans = [...new Set(ids)].sort();
  return { sans, allSidecars: eps.length > 0 && eps.every((e) => e.origin.startsWith('Workload/')) };
}

/**
 * TLS origination for an outbound cluster. ISTIO_MUTUAL: mesh mTLS checking the service's identities;
 * SIMPLE/MUTUAL: the user's files; DISABLE: plaintext; no setting: auto mTLS when every endpoint has
 * a sidecar (a transport_socket_matches entry, so a proxy without a certificate yet stays plaintext).
 */
export function applyUpstreamTls(c: Obj, registry: Registry, svc: MeshService, port: ServicePortInfo, tls: ClientTLSSettings | undefined): void {
  const mode = tls?.mode;
  if (mode === 'DISABLE') return;
  const sni = `outbound_.${port.port}_._.${svc.hostname}`;
  if (mode === 'SIMPLE' || mode === 'MUTUAL') {
    c.transport_socket = upstreamUserTls(tls ?? {}, mode === 'MUTUAL', tls?.sni ?? svc.hostname);
    return;
  }
  const ids = serverIdentities(registry, svc, port.port);
  const sans = (tls?.subjectAltNames?.length ? tls.subjectAltNames : ids.sans).map((exact) => ({ exact }));
  const h2 = speaksH2(c);
  if (mode === 'ISTIO_MUTUAL') {
    c.transport_socket = upstreamIstioMutual(sans, tls?.sni ?? sni, h2);
    return;
  }
  if (svc.location === 'MESH_INTERNAL' && ids.allSidecars) {
    c.transport_socket_matches = [{ name: 'tlsMode-istio', match: {}, transport_socket: upstreamIstioMutual(sans, sni, h2) }];
  }
}
