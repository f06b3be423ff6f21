// Shared fixtures of the semantics tests: a two-port reviews service with subsets v1/v2, a few
// workloads, and a helper that routes a request through both the simulator and the sidecar router.
import assert from 'node:assert/strict';
import type { Workload } from '../../src/model/index.js';
import { createSnapshot, type ConfigSnapshot } from '../../src/registry/index.js';
import type { ProxyInfo, XdsResources } from '../../src/translate/index.js';
import { parseResources } from './harness.js';
import { simulate, simulateWithSidecar } from './simulate.js';

export const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9090 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
`;

export const WORKLOADS: Workload[] = [
  { name: 'reviews-v1', namespace: 'default', address: '127.0.1.3', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'r', ports: { http: 9080, 'http-admin': 9090 } },
  { name: 'reviews-v2', namespace: 'default', address: '127.0.1.4', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'r', ports: { http: 9080, 'http-admin': 9090 } },
  { name: 'tester', namespace: 'default', address: '127.0.1.9', labels: { app: 'tester' }, serviceAccount: 't', ports: {} },
  { name: 'other', namespace: 'other', address: '127.0.1.10', labels: { app: 'other' }, serviceAccount: 'o', ports: {} },
];

export function snap(yaml: string, mesh = {}): ConfigSnapshot {
  return createSnapshot('1', parseResources(SERVICES + '---\n' + yaml, 'test'), WORKLOADS, mesh);
}

export function sidecar(name: string, labels?: Record<string, string>): ProxyInfo {
  const w = WORKLOADS.find((x) => x.name === name);
  assert.ok(w);
  return { id: `sidecar~${w.address}~${name}.${w.namespace}~${w.namespace}.svc.cluster.local`, kind: 'sidecar', name, namespace: w.namespace,
    labels: labels ?? w.labels, address: w.address, serviceAccount: w.serviceAccount, workload: w };
}

export function clusterFor(r: XdsResources, port: number, host: string, path = '/', headers: Record<string, string> = {}, method?: string): string | undefined {
  const res = simulate(r, { port, host, path, headers, method });
  const side = simulateWithSidecar(r, { port, host, path, headers, method });
  assert.equal(side.cluster ?? side.error, res.cluster ?? res.error, `the sidecar's router disagrees for ${host}${path}`);
  return res.cluster ?? res.error;
}

export const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
export const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';
