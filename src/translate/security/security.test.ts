import test from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, Workload } from '../../model/index.js';
import { createSnapshot, registryFor } from '../../registry/index.js';
import { mtlsModeFor } from './peer-authentication.js';
import { applyUpstreamTls, withInboundMtls } from './index.js';

const pa = (ns: string, name: string, spec: object, ts = '2026-01-01T00:00:00Z'): Resource =>
  ({ apiVersion: 'security.istio.io/v1beta1', kind: 'PeerAuthentication', metadata: { name, namespace: ns, creationTimestamp: ts }, spec });
const wl: Workload = { name: 'reviews-v1', namespace: 'bookinfo', labels: { app: 'reviews' }, ports: { http: 9080, metrics: 15090 }, serviceAccount: 'reviews', address: '127.1.0.2' };
const mode = (rs: Resource[], port = 9080) => mtlsModeFor(createSnapshot('1', rs, [wl]), wl, port);

void test('PeerAuthentication precedence: workload selector > namespace > mesh (root namespace) > PERMISSIVE', () => {
  assert.equal(mode([]), 'PERMISSIVE');
  assert.equal(mode([pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })]), 'STRICT');
  assert.equal(mode([pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }), pa('bookinfo', 'ns', { mtls: { mode: 'DISABLE' } })]), 'DISABLE');
  // UNSET inherits from the namespace, which inherits from the mesh.
  assert.equal(mode([pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }), pa('bookinfo', 'ns', { mtls: { mode: 'UNSET' } })]), 'STRICT');
  const sel = pa('bookinfo', 'reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 15090: { mode: 'DISABLE' } } });
  assert.equal(mode([pa('bookinfo', 'ns', { mtls: { mode: 'STRICT' } }), sel]), 'PERMISSIVE');
  assert.equal(mode([pa('bookinfo', 'ns', { mtls: { mode: 'STRICT' } }), sel], 15090), 'DISABLE');
  // A selector that does not match, or a policy in another namespace, does not apply.
  assert.equal(mode([pa('bookinfo', 'other', { selector: { matchLabels: { app: 'ratings' } }, mtls: { mode: 'DISABLE' } }), pa('default', 'ns', { mtls: { mode: 'DISABLE' } })]), 'PERMISSIVE');
  // Two namespace-wide policies: the oldest wins.
  assert.equal(mode([pa('bookinfo', 'b', { mtls: { mode: 'DISABLE' } }, '2026-02-01T00:00:00Z'), pa('bookinfo', 'a', { mtls: { mode: 'STRICT' } }, '2026-01-01T00:00:00Z')]), 'STRICT');
});

void test('inbound chains: STRICT has only the TLS chain, PERMISSIVE adds raw_buffer, DISABLE stays plaintext', () => {
  const listener = { name: '127.1.0.2_9080', filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager' } }] }] };
  const chains = (rs: Resource[]) => (withInboundMtls(registryFor(createSnapshot('1', rs, [wl])), wl, 9080, listener).filter_chains as { filter_chain_match?: { transport_protocol: string }; transport_socket?: { typed_config: Record<string, unknown> }; filters: { typed_config: Record<string, unknown> }[] }[]);
  const strict = chains([pa('bookinfo', 'ns', { mtls: { mode: 'STRICT' } })]);
  assert.deepEqual(strict.map((c) => c.filter_chain_match?.transport_protocol), ['tls']);
  assert.equal(strict[0].transport_socket?.typed_config.require_client_certificate && true, true);
  assert.equal(strict[0].filters[0].typed_config.forward_client_cert_details, 'APPEND_FORWARD');
  assert.deepEqual(chains([]).map((c) => c.filter_chain_match?.transport_protocol), ['tls', 'raw_buffer']);
  assert.deepEqual(chains([pa('bookinfo', 'ns', { mtls: { mode: 'DISABLE' } })]), listener.filter_chains);
});

void test('DestinationRule tls.mode and auto mTLS on outbound clusters', () => {
  const svc: Resource = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'bookinfo' }, spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } };
  const reg = registryFor(createSnapshot('1', [svc], [wl]));
  const s = reg.service('reviews.bookinfo.svc.cluster.local', 'bookinfo')!;
  const cluster = (tls?: object) => { const c: Record<string, unknown> = { name: 'c' }; applyUpstreamTls(c, reg, s, s.ports[0], tls); return JSON.stringify(c); };
  assert.match(cluster(), /transport_socket_matches.*tlsMode-istio.*"name":"default".*"exact":"spiffe:\/\/cluster.local\/ns\/bookinfo\/sa\/reviews".*"name":"ROOTCA"/);
  assert.equal(cluster({ mode: 'DISABLE' }), '{"name":"c"}');
  assert.match(cluster({ mode: 'ISTIO_MUTUAL' }), /^\{"name":"c","transport_socket":.*"sni":"outbound_.9080_._.reviews.bookinfo.svc.cluster.local"/);
  const mutual = cluster({ mode: 'MUTUAL', clientCertificate: '/c.pem', privateKey: '/k.pem', caCertificates: '/ca.pem', subjectAltNames: ['reviews.example'] });
  assert.match(mutual, /"tls_certificates":\[\{"certificate_chain":\{"filename":"\/c.pem"\},"private_key":\{"filename":"\/k.pem"\}\}\].*"trusted_ca":\{"filename":"\/ca.pem"\}.*"san_type":"DNS"/);
  assert.doesNotMatch(cluster({ mode: 'SIMPLE', caCertificates: '/ca.pem' }), /tls_certificates/);
});
