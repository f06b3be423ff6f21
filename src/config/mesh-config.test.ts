import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshConfig } from './mesh-config.js';

const PROVIDER = `
  - name: sample-ext-authz-http
    envoyExtAuthzHttp:
      service: ext-authz.foo.svc.cluster.local
      port: 8000
      includeRequestHeadersInCheck: ["x-ext-authz"]
`;

void test('mesh config as MeshConfig, IstioOperator or the istio ConfigMap gives the same extensionProviders', () => {
  const want = [{ name: 'sample-ext-authz-http', envoyExtAuthzHttp: { service: 'ext-authz.foo.svc.cluster.local', port: 8000, includeRequestHeadersInCheck: ['x-ext-authz'] } }];
  assert.deepEqual(parseMeshConfig(`extensionProviders:${PROVIDER}`, 'mesh.yaml').extensionProviders, want);
  const op = `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n    accessLogFile: /dev/stdout\n    extensionProviders:${PROVIDER.replace(/\n {2}/g, '\n      ')}`;
  assert.deepEqual(parseMeshConfig(op, 'op.yaml').extensionProviders, want);
  const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: istio, namespace: istio-system }\ndata:\n  mesh: |-\n    extensionProviders:${PROVIDER.replace(/\n/g, '\n    ')}`;
  assert.deepEqual(parseMeshConfig(cm, 'cm.yaml').extensionProviders, want);
});

void test('bad mesh config is refused naming file, line and field', () => {
  assert.throws(() => parseMeshConfig('extensionProviders:\n  - name: x\n    envoyExtAuthzHttp:\n      service: a.b\n      port: 99999\n', 'm.yaml'),
    /m\.yaml:5: extensionProviders\[0\]\.envoyExtAuthzHttp\.port: .*65535/);
  assert.throws(() => parseMeshConfig('extensionProviders:\n  - envoyExtAuthzHttp: { service: a, port: 1 }\n', 'm.yaml'), /extensionProviders\[0\]\.name.*missing required field "name"|missing required field "name"/);
  assert.throws(() => parseMeshConfig('extensionProviders:\n  - name: a\n    envoyExtAuthzHttp: { service: a, port: 1 }\n  - name: a\n    envoyExtAuthzHttp: { service: a, port: 1 }\n', 'm.yaml'), /extension provider "a" is defined twice/);
  assert.throws(() => parseMeshConfig('extensionProviders: [', 'm.yaml'), /m\.yaml:1:/);
  assert.throws(() => parseMeshConfig('kind: ConfigMap\nmetadata: { name: istio }\ndata: {}\n', 'cm.yaml'), /cm\.yaml: ConfigMap istio has no data\.mesh/);
});

void test('trustDomain, trustDomainAliases and localityLbSetting are read and checked', () => {
  const m = parseMeshConfig('trustDomain: new-td\ntrustDomainAliases: [old-td, cluster.local]\nlocalityLbSetting:\n  enabled: true\n  distribute:\n  - from: us-west/*\n    to: { "us-west/*": 80, "us-east/*": 20 }\n', 'mesh.yaml');
  assert.equal(m.trustDomain, 'new-td');
  assert.deepEqual(m.trustDomainAliases, ['old-td', 'cluster.local']);
  assert.deepEqual(m.localityLbSetting?.distribute?.[0].to, { 'us-west/*': 80, 'us-east/*': 20 });
  assert.equal(parseMeshConfig('accessLogFile: /dev/stdout\n', 'm.yaml').trustDomain, undefined);
  assert.throws(() => parseMeshConfig('trustDomain: Bad/TD\n', 'm.yaml'), /m\.yaml:1: trustDomain: invalid trust domain "Bad\/TD"/);
  assert.throws(() => parseMeshConfig('trustDomainAliases:\n  - ok\n  - "*.td"\n', 'm.yaml'), /m\.yaml:3: trustDomainAliases\[1\]: invalid trust domain/);
  assert.throws(() => parseMeshConfig('trustDomainAliases: old-td\n', 'm.yaml'), /trustDomainAliases: expected a list/);
  assert.throws(() => parseMeshConfig('localityLbSetting:\n  distribute:\n  - from: a\n    to: { b: 60 }\n', 'm.yaml'), /localityLbSetting\.distribute\[0\]\.to: total locality weight 60 != 100/);
  assert.throws(() => parseMeshConfig('localityLbSetting:\n  failover: [{ from: a, to: a }]\n', 'm.yaml'), /localityLbSetting\.failover\[0\]/);
});
