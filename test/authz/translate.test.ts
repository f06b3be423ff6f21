// AuthorizationPolicy / RequestAuthentication translation: the Envoy config Istio's builder would
// produce for the seeds and the corner cases, policy selection, and that everything emitted packs
// into protobuf Any and back unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Workload } from '../../src/model/index.js';
import { createSnapshot, registryFor } from '../../src/registry/index.js';
import { translate, type ProxyInfo } from '../../src/translate/index.js';
import { inboundAuthz, rbacHttpFilters, rbacNetworkFilters, jwtAuthnFilter } from '../../src/translate/authz/index.js';
import { packAny, unpackAny } from '../../src/xds/protos.js';
import { parseResources } from '../translate/harness.js';
import { roundTripMismatches } from '../translate/resources.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const seed = (f: string): string => readFileSync(join(ROOT, 'test', 'fixtures', 'seeds', f), 'utf8');

const W: Workload = { name: 'productpage-v1', namespace: 'default', address: '127.88.0.1', labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'productpage', ports: { http: 9080 }, appPort: 19080 };
const SVC = `apiVersion: v1
kind: Service
metadata: { name: productpage }
spec: { selector: { app: productpage }, ports: [{ name: http, port: 9080 }] }
`;

function authzFor(yaml: string, w: Workload = W) {
  const s = createSnapshot('1', parseResources(`${SVC}---\n${yaml}`, 'authz-test'), [w]);
  return inboundAuthz(registryFor(s), w);
}

/** Keeps empty messages ({} is meaningful: allow_missing, async_fetch), drops proto3 defaults. */
function norm(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = norm((v as Record<string, unknown>)[k]);
      if (x === undefined || x === false || x === 0 || x === '' || x === '0' || x === 'ALLOW' || (Array.isArray(x) && x.length === 0)) continue;
      out[k] = x;
    }
    return out;
  }
  return v;
}

function roundTrip(typedConfig: Record<string, unknown>): void {
  const url = typedConfig['@type'] as string;
  const body = { ...typedConfig };
  delete body['@type'];
  const back = unpackAny(packAny(url, body));
  assert.deepEqual(norm(back), norm(body), `${url} changed through packAny/unpackAny`);
}

void test('seed 001-07: ALLOW GET from the bookinfo-viewer principal becomes one RBAC ALLOW filter', () => {
  const a = authzFor(seed('001-07-authorizationpolicy.yaml'));
  assert.equal(a.http.length, 1);
  assert.deepEqual(a.http[0], {
    name: 'envoy.filters.http.rbac',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
      rules: {
        policies: {
          'ns[default]-policy[allow-viewer]-rule[0]': {
            permissions: [{ and_rules: { rules: [{ or_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }] } }] } }],
            principals: [{ and_ids: { ids: [{ or_ids: { ids: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/bookinfo-viewer' } } }] } }] } }],
          },
        },
      },
      track_per_rule_stats: true,
    },
  });
  roundTrip(a.http[0].typed_config);
});

void test('every source/operation/condition form: order, not-forms, wildcards, claims, TCP-only attributes', () => {
  const a = authzFor(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: full }
spec:
  action: DENY
  rules:
  - from:
    - source:
        principals: ["p", "pre-*", "*-suf", "*"]
        notPrincipals: ["np"]
        requestPrincipals: ["iss/sub"]
        notRequestPrincipals: ["*"]
        namespaces: ["ns", "ns-*"]
        notNamespaces: ["bad"]
        ipBlocks: ["1.2.3.4", "5.6.0.0/16"]
        notIpBlocks: ["9.0.0.1"]
        remoteIpBlocks: ["10.0.0.0/8"]
        notRemoteIpBlocks: ["10.1.0.0/16"]
    to:
    - operation:
        hosts: ["example.com", "*.suffix.com", "*"]
        notHosts: ["no.com"]
        methods: ["GET", "*"]
        notMethods: ["DELETE"]
        paths: ["/exact", "/prefix/*", "*/suffix", "*", "/t/{*}/x"]
        notPaths: ["/admin*"]
        ports: ["80"]
        notPorts: ["8000"]
    when:
    - { key: "request.headers[X-Token]", values: ["a", "*"], notValues: ["b"] }
    - { key: source.ip, values: ["10.10.10.10"] }
    - { key: remote.ip, values: ["192.168.0.0/24"] }
    - { key: source.namespace, values: ["ns"] }
    - { key: source.principal, values: ["cluster.local/ns/a/sa/b"] }
    - { key: request.auth.principal, values: ["iss/sub"] }
    - { key: request.auth.audiences, values: ["aud"] }
    - { key: request.auth.presenter, values: ["azp"] }
    - { key: "request.auth.claims[groups]", values: ["admin"] }
    - { key: "request.auth.claims[a][b]", values: ["nested"] }
    - { key: destination.ip, values: ["127.0.0.1"] }
    - { key: destination.port, values: ["9080"] }
    - { key: connection.sni, values: ["*.local"] }
`);
  const cfg = a.http[0].typed_config as { rules: { action: string; policies: Record<string, { permissions: unknown[]; principals: unknown[] }> } };
  assert.equal(cfg.rules.action, 'DENY');
  const pol = cfg.rules.policies['ns[default]-policy[full]-rule[0]'];
  const perm = (pol.permissions[0] as { and_rules: { rules: unknown[] } }).and_rules.rules;
  const princ = (pol.principals[0] as { and_ids: { ids: unknown[] } }).and_ids.ids;
  // hosts, notHosts, methods, notMethods, paths, notPaths, ports, notPorts, then when: dest ip, dest port, sni.
  assert.equal(perm.length, 11);
  assert.deepEqual(perm[0], { or_rules: { rules: [
    { header: { name: ':authority', string_match: { exact: 'example.com', ignore_case: true } } },
    { header: { name: ':authority', string_match: { suffix: '.suffix.com', ignore_case: true } } },
    { header: { name: ':authority', present_match: true } },
  ] } });
  assert.deepEqual(perm[4], { or_rules: { rules: [
    { url_path: { path: { exact: '/exact' } } }, { url_path: { path: { prefix: '/prefix/' } } }, { url_path: { path: { suffix: '/suffix' } } },
    { url_path: { path: { safe_regex: { regex: '.+' } } } }, { url_path: { path: { safe_regex: { regex: '/t/[^/]+/x' } } } },
  ] } });
  assert.deepEqual(perm[5], { not_rule: { or_rules: { rules: [{ url_path: { path: { prefix: '/admin' } } }] } } });
  assert.deepEqual(perm[10], { or_rules: { rules: [{ requested_server_name: { suffix: '.local' } }] } });
  // principals, notPrincipals, requestPrincipals, notRequestPrincipals, namespaces, notNamespaces,
  // remoteIpBlocks, notRemoteIpBlocks, ipBlocks, notIpBlocks, then 10 when-conditions' entries.
  assert.deepEqual(princ[0], { or_ids: { ids: [
    { authenticated: { principal_name: { exact: 'spiffe://p' } } },
    { authenticated: { principal_name: { prefix: 'spiffe://pre-' } } },
    { authenticated: { principal_name: { safe_regex: { regex: 'spiffe://.*-suf' } } } },
    { authenticated: { principal_name: { safe_regex: { regex: '.+' } } } },
  ] } });
  assert.deepEqual(princ[4], { or_ids: { ids: [
    { authenticated: { principal_name: { safe_regex: { regex: '.*/ns/ns/.*' } } } },
    { authenticated: { principal_name: { safe_regex: { regex: '.*/ns/ns-.*/.*' } } } },
  ] } });
  assert.deepEqual(princ[6], { or_ids: { ids: [{ remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } } }] } });
  assert.deepEqual(princ[8], { or_ids: { ids: [{ direct_remote_ip: { address_prefix: '1.2.3.4', prefix_len: { value: 32 } } }, { direct_remote_ip: { address_prefix: '5.6.0.0', prefix_len: { value: 16 } } }] } });
  assert.ok(princ.some((p) => JSON.stringify(p) === JSON.stringify({ or_ids: { ids: [{ metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'a' }, { key: 'b' }], value: { list_match: { one_of: { string_match: { exact: 'nested' } } } } } }] } })));
  assert.equal(princ.length, 10 + 11);
  roundTrip(a.http[0].typed_config as Record<string, unknown>);
  // The TCP form of a DENY drops the HTTP-only values and keeps the rest (a wider deny).
  const tcp = a.network[0].typed_config as { stat_prefix: string; rules: { policies: Record<string, { permissions: [{ and_rules: { rules: unknown[] } }] }> } };
  assert.equal(tcp.stat_prefix, 'tcp.');
  assert.equal(tcp.rules.policies['ns[default]-policy[full]-rule[0]'].permissions[0].and_rules.rules.length, 2 + 3);
  roundTrip(a.network[0].typed_config as Record<string, unknown>);
});

void test('ALLOW {} denies all, rules [{}] allows all, TCP ALLOW drops rules with HTTP-only fields, DENY without rules is left out', () => {
  const yaml = (name: string, spec: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ${name} }\nspec: ${spec}\n`;
  const none = authzFor(yaml('allow-nothing', '{}'));
  assert.deepEqual((none.http[0].typed_config as { rules: unknown }).rules, { policies: { 'ns[default]-policy[allow-nothing]-rule[0]': { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] } } });
  const all = authzFor(yaml('allow-all', '{ rules: [{}] }'));
  assert.deepEqual((all.http[0].typed_config as { rules: unknown }).rules, { policies: { 'ns[default]-policy[allow-all]-rule[0]': { permissions: [{ and_rules: { rules: [{ any: true }] } }], principals: [{ and_ids: { ids: [{ any: true }] } }] } } });
  const tcp = rbacNetworkFilters(parseResources(yaml('mixed', '{ rules: [{ to: [{ operation: { methods: [GET] } }] }, { to: [{ operation: { ports: ["80"] } }] }] }'), 't') as never);
  assert.deepEqual(Object.keys((tcp[0].typed_config as { rules: { policies: object } }).rules.policies), ['ns[default]-policy[mixed]-rule[1]']);
  assert.equal(authzFor(yaml('deny-nothing', '{ action: DENY }')).http.length, 0);
  // An ALLOW rule with a bad value is dropped; a DENY one keeps its other values.
  const bad = rbacHttpFilters(parseResources(yaml('bad', '{ rules: [{ from: [{ source: { ipBlocks: ["nope"] } }] }, {}] }'), 't') as never);
  assert.deepEqual(Object.keys((bad[0].typed_config as { rules: { policies: object } }).rules.policies), ['ns[default]-policy[bad]-rule[1]']);
});

void test('evaluation order CUSTOM, AUDIT, DENY, ALLOW; dry-run policies become shadow rules; CUSTOM without a provider denies what it matches', () => {
  const a = authzFor(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get }
spec: { rules: [{ to: [{ operation: { methods: [GET] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin }
spec: { action: DENY, rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: audit }
spec: { action: AUDIT, rules: [{}] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, annotations: { istio.io/dry-run: "false" } }
spec: { action: CUSTOM, provider: { name: opa }, rules: [{ to: [{ operation: { paths: ["/ext"] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: try-deny, annotations: { istio.io/dry-run: "true" } }
spec: { action: DENY, rules: [{ to: [{ operation: { methods: [POST] } }] }] }
`);
  const cfgs = a.http.map((f) => f.typed_config as Record<string, { action?: string; policies: object }>);
  assert.deepEqual(cfgs.map((c) => c.rules?.action), ['DENY', 'LOG', 'DENY', undefined]);
  assert.deepEqual(Object.keys(cfgs[0].rules.policies), ['istio-ext-authz-ns[default]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action']);
  assert.deepEqual(Object.keys(cfgs[2].shadow_rules.policies), ['ns[default]-policy[try-deny]-rule[0]']);
  assert.equal(cfgs[2].shadow_rules_stat_prefix, 'istio_dry_run_deny_');
  for (const f of a.http) roundTrip(f.typed_config as Record<string, unknown>);
});

void test('selection: root namespace is mesh-wide, no selector is namespace-wide, matchLabels must all match, other namespaces never apply', () => {
  const p = (name: string, ns: string, sel: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { ${sel} action: DENY, rules: [{}] }\n`;
  const a = authzFor([
    p('mesh', 'istio-system', ''), p('mesh-sel', 'istio-system', 'selector: { matchLabels: { app: productpage } },'),
    p('ns-wide', 'default', ''), p('mine', 'default', 'selector: { matchLabels: { app: productpage, version: v1 } },'),
    p('not-mine', 'default', 'selector: { matchLabels: { app: productpage, version: v2 } },'), p('other-ns', 'other', ''),
  ].join('---\n'));
  const names = Object.keys((a.http[0].typed_config as { rules: { policies: object } }).rules.policies).sort();
  assert.deepEqual(names, ['ns[default]-policy[mine]-rule[0]', 'ns[default]-policy[ns-wide]-rule[0]', 'ns[istio-system]-policy[mesh-sel]-rule[0]', 'ns[istio-system]-policy[mesh]-rule[0]']);
});

void test('seed 001-06: RequestAuthentication becomes jwt_authn with one provider per rule and requires_any [..., allow_missing]', () => {
  const f = jwtAuthnFilter(parseResources(seed('001-06-requestauthentication.yaml'), 'seed') as never);
  assert.ok(f);
  const cfg = f.typed_config as Record<string, unknown>;
  assert.deepEqual(cfg.rules, [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] } } }]);
  const prov = (cfg.providers as Record<string, Record<string, unknown>>)['origins-0'];
  assert.equal(prov.issuer, 'testing@secure.istio.io');
  assert.deepEqual((prov.remote_jwks as { http_uri: unknown }).http_uri, { uri: 'https://raw.githubusercontent.com/istio/istio/release-1.13/security/tools/jwt/samples/jwks.json', cluster: 'outbound|443||raw.githubusercontent.com', timeout: { seconds: '5', nanos: 0 } });
  roundTrip(cfg);
  const full = jwtAuthnFilter(parseResources(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: r }
spec:
  jwtRules:
  - issuer: a
    jwks: '{"keys":[]}'
    audiences: [x]
    fromHeaders: [{ name: x-jwt, prefix: "Token " }]
    fromParams: [tok]
    fromCookies: [session]
    forwardOriginalToken: true
    outputPayloadToHeader: x-payload
    outputClaimToHeaders: [{ header: x-sub, claim: sub }]
  - { issuer: b, jwksUri: "http://127.0.0.1:1/jwks", timeout: 2s }
  - { jwksUri: "http://no-issuer/" }
`, 'r') as never);
  assert.ok(full);
  const fc = full.typed_config as { providers: Record<string, Record<string, unknown>> };
  assert.deepEqual(Object.keys(fc.providers), ['origins-0', 'origins-1']);
  assert.deepEqual(fc.providers['origins-0'].from_headers, [{ name: 'x-jwt', value_prefix: 'Token ' }]);
  assert.equal(fc.providers['origins-0'].forward, true);
  assert.deepEqual(fc.providers['origins-0'].normalize_payload_in_metadata, { space_delimited_claims: ['scope', 'permission'] });
  roundTrip(full.typed_config as Record<string, unknown>);
});

void test('translate(): authz filters lead the inbound HTTP chain (router last), network RBAC leads tcp_proxy; the whole output round-trips', () => {
  const tcpSvc = `apiVersion: v1\nkind: Service\nmetadata: { name: db }\nspec: { selector: { app: productpage }, ports: [{ name: tcp, port: 5432 }] }\n`;
  const s = createSnapshot('1', parseResources(`${SVC}---\n${tcpSvc}---\n${seed('001-07-authorizationpolicy.yaml')}---\n${seed('001-06-requestauthentication.yaml').replace('app: httpbin', 'app: productpage')}`, 't'),
    [{ ...W, ports: { http: 9080, tcp: 5432 } }]);
  const info: ProxyInfo = { id: `sidecar~${W.address}~productpage-v1.default~default.svc.cluster.local`, kind: 'sidecar', name: 'productpage-v1', namespace: 'default', labels: W.labels, address: W.address, serviceAccount: 'productpage' };
  const r = translate(s, info);
  const http = r.listeners.get(`${W.address}_9080`) as { filter_chains: [{ filters: [{ typed_config: { http_filters: { name: string }[] } }] }] };
  assert.deepEqual(http.filter_chains[0].filters[0].typed_config.http_filters.map((f) => f.name), ['envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac', 'envoy.filters.http.router']);
  const tcp = r.listeners.get(`${W.address}_5432`) as { filter_chains: [{ filters: { name: string }[] }] };
  assert.deepEqual(tcp.filter_chains[0].filters.map((f) => f.name), ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
  assert.deepEqual(roundTripMismatches(r), []);
});

void test('gateways: a policy selecting the ingress gateway (or mesh-wide) leads its HTTP filters; sidecars elsewhere are unaffected', () => {
  const s = createSnapshot('1', parseResources(`${SVC}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ingress-ips, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: DENY
  rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }]
`, 't'), [W]);
  const gw: ProxyInfo = { id: 'router~127.88.0.9~istio-ingressgateway.istio-system~istio-system.svc.cluster.local', kind: 'gateway', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, address: '127.88.0.9', serviceAccount: 'istio-ingressgateway-service-account' };
  const r = translate(s, gw);
  const l = [...r.listeners.values()][0] as { filter_chains: [{ filters: [{ typed_config: { http_filters: { name: string; typed_config: { rules?: { policies: object } } }[] } }] }] };
  const filters = l.filter_chains[0].filters[0].typed_config.http_filters;
  assert.deepEqual(filters.map((f) => f.name), ['envoy.filters.http.rbac', 'envoy.filters.http.router']);
  assert.deepEqual(Object.keys(filters[0].typed_config.rules?.policies ?? {}), ['ns[istio-system]-policy[ingress-ips]-rule[0]']);
  const sidecar = translate(s, { id: `sidecar~${W.address}~productpage-v1.default~default.svc.cluster.local`, kind: 'sidecar', name: 'productpage-v1', namespace: 'default', labels: W.labels, address: W.address, serviceAccount: 'productpage' });
  const inbound = sidecar.listeners.get(`${W.address}_9080`) as { filter_chains: { filters: [{ typed_config: { http_filters: { name: string }[] } }] }[] };
  assert.deepEqual(inbound.filter_chains[0].filters[0].typed_config.http_filters.map((f) => f.name), ['envoy.filters.http.router']);
  assert.deepEqual(roundTripMismatches(r), []);
});
