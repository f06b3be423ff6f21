// Envoy TLS transport sockets for Istio mTLS: the workload certificate `default` and trust bundle
// `ROOTCA` come from SDS served by the proxy's own agent (Istio's `sds-grpc`), never over the network.
import type { Obj } from '../envoy.js';

export const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const WORKLOAD_SECRET = 'default';
export const ROOT_SECRET = 'ROOTCA';

/** The agent-local SDS source, spelled as Istio does. */
export const AGENT_SDS: Obj = Object.freeze({
  api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] },
  resource_api_version: 'V3',
});

export type SanMatch = { exact: string } | { prefix: string };

function sanMatchers(sans: readonly SanMatch[], type: 'URI' | 'DNS' = 'URI'): Obj[] {
  return sans.map((m) => ({ san_type: type, matcher: m }));
}

/** common_tls_context with the workload certificate and the mesh root from SDS. */
export function istioCommonTls(sans: readonly SanMatch[], alpn: readonly string[]): Obj {
  return {
    tls_certificate_sds_secret_configs: [{ name: WORKLOAD_SECRET, sds_config: AGENT_SDS }],
    combined_validation_context: {
      default_validation_context: sans.length ? { match_typed_subject_alt_names: sanMatchers(sans) } : {},
      validation_context_sds_secret_config: { name: ROOT_SECRET, sds_config: AGENT_SDS },
    },
    alpn_protocols: [...alpn],
  };
}

/** Istio's ALPNInMeshH2: what a client sidecar offers when the cluster speaks HTTP/2 to the peer sidecar. */
export const ALPN_IN_MESH_H2: readonly string[] = ['istio-h2', 'istio', 'h2'];

/** ISTIO_MUTUAL origination; `h2`: the cluster speaks HTTP/2, negotiated by ALPN as Istio does. */
export function upstreamIstioMutual(sans: readonly SanMatch[], sni: string, h2 = false): Obj {
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': UPSTREAM_TLS, common_tls_context: istioCommonTls(sans, h2 ? ALPN_IN_MESH_H2 : []), sni } };
}

/** SIMPLE / MUTUAL with the user's files (DestinationRule tls.caCertificates, clientCertificate, privateKey). */
export function upstreamUserTls(t: { caCertificates?: string; clientCertificate?: string; privateKey?: string; subjectAltNames?: string[]; sni?: string },
  mutual: boolean, defaultSni: string): Obj {
  const common: Obj = {};
  if (mutual && t.clientCertificate && t.privateKey) {
    common.tls_certificates = [{ certificate_chain: { filename: t.clientCertificate }, private_key: { filename: t.privateKey } }];
  }
  const vc: Obj = {};
  if (t.caCertificates) vc.trusted_ca = { filename: t.caCertificates };
  if (t.subjectAltNames?.length) {
    vc.match_typed_subject_alt_names = t.subjectAltNames.map((s) => ({ san_type: s.startsWith('spiffe://') ? 'URI' : 'DNS', matcher: { exact: s } }));
  }
  if (Object.keys(vc).length) common.validation_context = vc;
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': UPSTREAM_TLS, common_tls_context: common, sni: t.sni ?? defaultSni } };
}

/** Inbound: our certificate, clients must present one from the mesh trust domain or one of its aliases. */
export function downstreamIstioMutual(trustDomains: string | readonly string[]): Obj {
  const tds = typeof trustDomains === 'string' ? [trustDomains] : trustDomains;
  return {
    name: TLS_TRANSPORT_SOCKET,
    typed_config: {
      '@type': DOWNSTREAM_TLS,
      common_tls_context: istioCommonTls(tds.map((td) => ({ prefix: `spiffe://${td}/` })), ['h2', 'http/1.1']),
      require_client_certificate: { value: true },
    },
  };
}
