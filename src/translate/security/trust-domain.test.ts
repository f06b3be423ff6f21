// Mesh trustDomain + trustDomainAliases in translation: RBAC principals expanded as Istio's
// ReplaceTrustDomainAliases, inbound mTLS accepting alias SAN prefixes, outbound SANs per alias.
import test from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, Workload } from '../../model/index.js';
import { createSnapshot, registryFor } from '../../registry/index.js';
import { applyUpstreamTls, withInboundMtls } from './index.js';
import { inboundAuthz, withTrustDomainAliases } from '../authz/index.js';

const wl: Workload = { name: 'httpbin-1', namespace: 'default', labels: { app: 'httpbin' }, ports: { http: 8000 }, serviceAccount: 'httpbin', address: '127.1.0.2' };
const svc: Resource = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'httpbin', namespace: 'default' }, spec: { selector: { app: 'httpbin' }, ports: [{ name: 'http', port: 8000 }] } };
const ap = (principals: string[], notPrincipals: string[] = []): Resource => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'default' },
  spec: { selector: { matchLabels: { app: 'httpbin' } }, rules: [{ from: [{ source: { principals, notPrincipals } }], when: [{ key: 'source.principal', values: principals }] }] } });
const mesh = { trustDomain: 'new-td', trustDomainAliases: ['old-td'] };

void test('principals of the trust domain, an alias or cluster.local match every domain of the bundle; others stay as written', () => {
  const b = ['new-td', 'old-td'];
  assert.deepEqual(withTrustDomainAliases(['old-td/ns/a/sa/s'], b), ['new-td/ns/a/sa/s', 'old-td/ns/a/sa/s']);
  assert.deepEqual(withTrustDomainAliases(['new-td/ns/a/sa/*'], b), ['new-td/ns/a/sa/*', 'old-td/ns/a/sa/*']);
  assert.deepEqual(withTrustDomainAliases(['cluster.local/ns/a/sa/s'], b), ['new-td/ns/a/sa/s', 'old-td/ns/a/sa/s']);
  assert.deepEqual(withTrustDomainAliases(['other-td/ns/a/sa/s', '*', '*/ns/a/sa/s', 'x*'], b), ['other-td/ns/a/sa/s', '*', '*/ns/a/sa/s', 'x*']);
  // Without aliases cluster.local still means the local trust domain.
  assert.deepEqual(withTrustDomainAliases(['cluster.local/ns/a/sa/s'], ['td-a']), ['td-a/ns/a/sa/s']);
  assert.deepEqual(withTrustDomainAliases(['cluster.local/ns/a/sa/s'], ['cluster.local']), ['cluster.local/ns/a/sa/s']);
});

void test('RBAC filters carry the expanded principals (from.source, notPrincipals and when source.principal)', () => {
  const reg = registryFor(createSnapshot('1', [svc, ap(['old-td/ns/default/sa/sleep'], ['cluster.local/ns/default/sa/bad'])], [wl], mesh));
  const s = JSON.stringify(inboundAuthz(reg, wl).http);
  for (const id of ['new-td/ns/default/sa/sleep', 'old-td/ns/default/sa/sleep', 'new-td/ns/default/sa/bad', 'old-td/ns/default/sa/bad']) {
    assert.ok(s.includes(`"exact":"spiffe://${id}"`), `${id} in ${s}`);
  }
  assert.ok(!s.includes('cluster.local/ns/default/sa/bad'));
  const plain = JSON.stringify(inboundAuthz(registryFor(createSnapshot('1', [svc, ap(['other-td/ns/default/sa/sleep'])], [wl], mesh)), wl).http);
  assert.ok(plain.includes('"exact":"spiffe://other-td/ns/default/sa/sleep"') && !plain.includes('new-td/ns/default/sa/sleep'));
});

void test('inbound mTLS accepts client SANs of the trust domain and its aliases; outbound checks the server identity in each', () => {
  const reg = registryFor(createSnapshot('1', [svc], [wl], mesh));
  const listener = { name: '127.1.0.2_8000', filter_chains: [{ filters: [] }] };
  const inbound = JSON.stringify(withInboundMtls(reg, wl, 8000, listener));
  assert.ok(inbound.includes('{"prefix":"spiffe://new-td/"}') && inbound.includes('{"prefix":"spiffe://old-td/"}'), inbound);
  const s = reg.service('httpbin.default.svc.cluster.local', 'default')!;
  const c: Record<string, unknown> = { name: 'c' };
  applyUpstreamTls(c, reg, s, s.ports[0], { mode: 'ISTIO_MUTUAL' });
  const out = JSON.stringify(c);
  assert.ok(out.includes('"exact":"spiffe://new-td/ns/default/sa/httpbin"') && out.includes('"exact":"spiffe://old-td/ns/default/sa/httpbin"'), out);
  // No aliases: unchanged (one domain).
  const one = registryFor(createSnapshot('1', [svc], [wl]));
  assert.equal((JSON.stringify(withInboundMtls(one, wl, 8000, listener)).match(/"prefix":"spiffe:/g) ?? []).length, 1);
});
