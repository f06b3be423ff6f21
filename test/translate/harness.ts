// Loads a translation test case (test/translate/testdata/<case>.yaml): Istio YAML, workloads,
// mesh overrides and the proxy to translate for. Files named `_*.yaml` are shared fragments
// pulled in with `include:`.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { Resource, Workload } from '../../src/model/index.js';
import { createSnapshot, type ConfigSnapshot, type MeshConfig } from '../../src/registry/index.js';
import type { ProxyInfo } from '../../src/translate/index.js';
import type { SimRequest } from './simulate.js';

/** Source directory of the test data (tests run from dist/, the data stays in test/). */
export const TESTDATA = join(fileURLToPath(new URL('../../..', import.meta.url)), 'test', 'translate', 'testdata');

export interface SimExpectation extends SimRequest {
  cluster?: string;
  weighted?: Record<string, number>;
  direct?: number;
  /** No route matches. */
  none?: boolean;
}

export interface TestCase {
  name: string;
  description: string;
  snapshot: ConfigSnapshot;
  proxy: ProxyInfo;
  grpc?: { listeners: string[] };
  simulate: SimExpectation[];
}

interface CaseFile {
  description?: string;
  include?: string[];
  mesh?: Partial<MeshConfig>;
  workloads?: Workload[];
  proxy?: { kind?: ProxyInfo['kind']; workload?: string; name?: string; namespace?: string; labels?: Record<string, string>; address?: string };
  config?: string;
  grpc?: { listeners: string[] };
  simulate?: SimExpectation[];
}

export function parseResources(yamlText: string, where: string): Resource[] {
  const out: Resource[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0].message}`);
    const r = doc.toJS() as Resource | null;
    if (!r) continue;
    r.metadata.namespace ??= 'default';
    out.push(r);
  }
  return out;
}

function readCase(file: string): CaseFile {
  return parse(readFileSync(join(TESTDATA, file), 'utf8')) as CaseFile;
}

export function loadCase(name: string): TestCase {
  const main = readCase(`${name}.yaml`);
  const parts = [...(main.include ?? []).map((f) => ({ file: f, c: readCase(f) })), { file: `${name}.yaml`, c: main }];
  const resources: Resource[] = [];
  const workloads: Workload[] = [];
  for (const { file, c } of parts) {
    if (c.config) resources.push(...parseResources(c.config, file));
    workloads.push(...(c.workloads ?? []));
  }
  const snapshot = createSnapshot(`test-${name}`, resources, workloads, main.mesh);
  const p = main.proxy ?? {};
  const w = p.workload ? workloads.find((x) => x.name === p.workload) : undefined;
  if (p.workload && !w) throw new Error(`${name}.yaml: proxy.workload ${p.workload} is not among the workloads`);
  const kind = p.kind ?? 'sidecar';
  const proxy: ProxyInfo = {
    id: `${kind === 'gateway' ? 'router' : 'sidecar'}~${w?.address ?? p.address ?? '127.0.0.99'}~${w?.name ?? p.name}.${w?.namespace ?? p.namespace}~${w?.namespace ?? p.namespace}.svc.cluster.local`,
    kind, name: w?.name ?? p.name ?? 'proxy', namespace: w?.namespace ?? p.namespace ?? 'default',
    labels: { ...(w?.labels ?? p.labels ?? {}) }, address: w?.address ?? p.address ?? '',
    serviceAccount: w?.serviceAccount ?? 'default', workload: kind === 'gateway' ? undefined : w,
  };
  return { name, description: main.description ?? '', snapshot, proxy, grpc: main.grpc, simulate: main.simulate ?? [] };
}

export function caseNames(): string[] {
  return readdirSync(TESTDATA).filter((f) => f.endsWith('.yaml') && !f.startsWith('_')).map((f) => f.slice(0, -5)).sort();
}
