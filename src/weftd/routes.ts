// weftd's own API (group weft.dev): live workloads, proxy sync status, mesh info, translated config.
import type { ApiServer } from '../api/server.js';
import { apiError, reply } from '../api/index.js';
import type { Workload } from '../model/index.js';
import type { XdsServer } from '../xds/types.js';
import type { translate as translateFn, checkConsistency as checkFn } from '../translate/index.js';
import { weftVersion } from '../cli/commands/version.js';
import type { WorkloadRegistry } from './workloads.js';
import type { SnapshotSource } from './xds-source.js';

export interface WeftRouteDeps {
  workloads: WorkloadRegistry;
  xds: XdsServer;
  source: SnapshotSource;
  xdsAddress: string;
  apiUrl: string;
  translate: typeof translateFn;
  checkConsistency: typeof checkFn;
}

const P = '/apis/weft.dev/v1';

function asWorkload(ns: string, body: unknown): Omit<Workload, 'address'> & { address?: string } {
  if (!body || typeof body !== 'object') throw apiError(400, 'BadRequest', 'workload body must be a JSON object');
  const b = body as Record<string, unknown>;
  const str = (k: string, d?: string) => {
    const v = b[k] ?? d;
    if (typeof v !== 'string' || !v) throw apiError(422, 'Invalid', `workload field ${k} must be a non-empty string`);
    return v;
  };
  const map = (k: string, type: 'string' | 'number') => {
    const v = b[k] ?? {};
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== type)) {
      throw apiError(422, 'Invalid', `workload field ${k} must map names to ${type}s`);
    }
    return v as Record<string, never>;
  };
  const appPort = b.appPort;
  if (appPort !== undefined && appPort !== null && (typeof appPort !== 'number' || !Number.isInteger(appPort) || appPort < 1 || appPort > 65535)) {
    throw apiError(422, 'Invalid', 'workload field appPort must be a port number');
  }
  return {
    name: str('name'), namespace: ns, labels: map('labels', 'string'), ports: map('ports', 'number'),
    serviceAccount: str('serviceAccount', 'default'), appPort: (appPort as number | undefined) ?? undefined,
    locality: typeof b.locality === 'string' ? b.locality : undefined,
    address: typeof b.address === 'string' ? b.address : undefined,
    ready: b.ready === undefined ? undefined : Boolean(b.ready),
  };
}

export function registerWeftRoutes(api: ApiServer, d: WeftRouteDeps): void {
  api.route('GET', `${P}/mesh`, () => ({
    xdsAddress: d.xdsAddress, apiUrl: d.apiUrl, version: weftVersion(),
    trustDomain: d.source.current().mesh.trustDomain, snapshotVersion: d.source.current().version,
  }));

  api.route('GET', `${P}/workloads`, () => ({ kind: 'WorkloadList', items: d.workloads.list() }));
  api.route('GET', `${P}/namespaces/:ns/workloads`, (c) => ({ kind: 'WorkloadList', items: d.workloads.list().filter((w) => w.namespace === c.params.ns) }));
  api.route('GET', `${P}/namespaces/:ns/workloads/:name`, (c) => {
    const w = d.workloads.get(c.params.ns, c.params.name);
    if (!w) throw apiError(404, 'NotFound', `workload ${c.params.ns}/${c.params.name} not found`);
    return w;
  });
  api.route('POST', `${P}/namespaces/:ns/workloads`, async (c) => {
    let w;
    try {
      w = d.workloads.register(asWorkload(c.params.ns, await c.body()));
    } catch (e) {
      if (e instanceof Error && !('status' in e)) throw apiError(422, 'Invalid', e.message);
      throw e;
    }
    await d.workloads.durable(); // acknowledged once on disk (the registry batches its journal)
    return reply(201, w);
  });
  api.route('PUT', `${P}/namespaces/:ns/workloads/:name/ready`, async (c) => {
    const body = (await c.body()) as { ready?: unknown } | undefined;
    if (!d.workloads.get(c.params.ns, c.params.name)) throw apiError(404, 'NotFound', `workload ${c.params.ns}/${c.params.name} not found`);
    d.workloads.setReady(c.params.ns, c.params.name, body?.ready !== false);
    await d.workloads.durable();
    return d.workloads.get(c.params.ns, c.params.name);
  });
  api.route('DELETE', `${P}/namespaces/:ns/workloads/:name`, async (c) => {
    if (!d.workloads.deregister(c.params.ns, c.params.name)) throw apiError(404, 'NotFound', `workload ${c.params.ns}/${c.params.name} not found`);
    await d.workloads.durable();
    return { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 };
  });

  api.route('GET', `${P}/proxystatus`, () => ({ kind: 'ProxyStatusList', items: d.xds.status() }));

  /** What weftd would send a workload's sidecar, translated from the current snapshot (for debugging). */
  api.route('GET', `${P}/namespaces/:ns/workloads/:name/xds`, (c) => {
    const w = d.workloads.get(c.params.ns, c.params.name);
    if (!w) throw apiError(404, 'NotFound', `workload ${c.params.ns}/${c.params.name} not found`);
    const proxy = d.source.proxyOf({ id: `sidecar~${w.address}~${w.name}.${w.namespace}~${w.namespace}.svc.cluster.local`, metadata: {} });
    const r = d.translate(d.source.current(), proxy);
    return {
      listeners: Object.fromEntries(r.listeners), routes: Object.fromEntries(r.routes),
      clusters: Object.fromEntries(r.clusters), endpoints: Object.fromEntries(r.endpoints),
      consistency: d.checkConsistency(r),
    };
  });
}
