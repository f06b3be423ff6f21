// weftd's xDS identity policy without sockets: every claim of the node against the certificate's
// SPIFFE identity (trust domain aliases included), and who may have gateway secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../model/index.js';
import type { NodeInfo, XdsPeer } from '../xds/types.js';
import { createXdsAuthenticator, secretsRefusal } from './xds-auth.js';
import { identifyProxy } from './proxies.js';

const workloads: Workload[] = [
  { name: 'gw', namespace: 'istio-system', serviceAccount: 'gw-sa', address: '127.0.0.2', labels: {}, ports: {} },
];
const lookup = (ns: string, name: string): Workload | undefined => workloads.find((w) => w.namespace === ns && w.name === name);
const node = (id: string, md: Record<string, unknown> = {}): NodeInfo => ({ id, metadata: md });
const peer = (...uriSans: string[]): XdsPeer => ({ address: '127.0.0.1:1', certificate: { uriSans, serialNumber: '01', subject: '', validTo: '', fingerprint256: '' } });

void test('the node\'s namespace and service account must be the certificate\'s, in every place the node states them', () => {
  const lines: string[] = [];
  const auth = createXdsAuthenticator({ plaintext: false, trustDomains: () => ['new.td', 'old.td'], lookup, log: (l) => lines.push(l) });
  const sleep = 'spiffe://new.td/ns/default/sa/sleep';
  assert.deepEqual(auth(node('sidecar~127.0.0.9~sleep-1.default~default.svc.cluster.local', { NAMESPACE: 'default', SERVICE_ACCOUNT: 'sleep' }), peer(sleep)), { principal: sleep });
  // An alias trust domain is ours too.
  assert.deepEqual(auth(node('sidecar~127.0.0.9~sleep-1.default~x', { SERVICE_ACCOUNT: 'sleep' }), peer('spiffe://old.td/ns/default/sa/sleep')), { principal: 'spiffe://old.td/ns/default/sa/sleep' });
  const denied = (r: ReturnType<typeof auth>): string => ('denied' in r ? r.denied : 'accepted');
  assert.match(denied(auth(node('sidecar~127.0.0.9~x.prod~x', { NAMESPACE: 'prod' }), peer(sleep))), /namespace prod is not the certificate's namespace default/);
  // Metadata says default, the id says prod: still refused.
  assert.match(denied(auth(node('sidecar~127.0.0.9~x.prod~x', { NAMESPACE: 'default' }), peer(sleep))), /namespace prod/);
  assert.match(denied(auth(node('sidecar~127.0.0.9~x.default~x', { SERVICE_ACCOUNT: 'admin' }), peer(sleep))), /service account admin is not/);
  // The registered gateway's account must be proven, whatever the metadata says.
  assert.match(denied(auth(node('router~127.0.0.2~gw.istio-system~x', { SERVICE_ACCOUNT: 'sleep' }), peer('spiffe://new.td/ns/istio-system/sa/sleep'))), /service account gw-sa is not/);
  assert.match(denied(auth(node('sidecar~1~a.default~x'), peer('spiffe://other.td/ns/default/sa/sleep'))), /no SPIFFE identity of trust domain new.td or old.td/);
  assert.match(denied(auth(node('sidecar~1~a.default~x'), peer(sleep, 'spiffe://new.td/ns/default/sa/other'))), /several SPIFFE identities/);
  assert.match(denied(auth(node('sidecar~1~a.default~x'), { address: 'x' })), /requires a workload certificate/);
  assert.ok(lines.some((l) => l.includes('refused node "sidecar~127.0.0.9~x.prod~x"') && l.includes(`proven ${sleep}`)), lines.join('\n'));
  // Plaintext xDS: no certificate, served as claimed.
  const plain = createXdsAuthenticator({ plaintext: true, trustDomains: () => ['new.td'], lookup, log: () => {} });
  assert.deepEqual(plain(node('router~127.0.0.2~gw.istio-system~x'), { address: 'x' }), {});
});

void test('gateway secrets: only the registered gateway proving its own identity, never over plaintext', () => {
  const gw = identifyProxy(node('router~127.0.0.2~gw.istio-system~x'), lookup);
  const own: XdsPeer = { ...peer('spiffe://td/ns/istio-system/sa/gw-sa'), principal: 'spiffe://td/ns/istio-system/sa/gw-sa' };
  assert.equal(secretsRefusal(gw, own, false), undefined);
  assert.match(secretsRefusal(gw, own, true) ?? '', /plaintext/);
  assert.match(secretsRefusal(gw, { address: 'x' }, false) ?? '', /no client certificate/);
  assert.match(secretsRefusal(gw, { address: 'x', principal: 'spiffe://td/ns/istio-system/sa/other' }, false) ?? '', /not the gateway's istio-system\/gw-sa/);
  assert.match(secretsRefusal(identifyProxy(node('router~1~ghost.istio-system~x'), lookup), own, false) ?? '', /no gateway workload/);
  assert.match(secretsRefusal(identifyProxy(node('sidecar~127.0.0.2~gw.istio-system~x'), lookup), own, false) ?? '', /sidecar, not a gateway/);
});
