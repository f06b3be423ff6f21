// Shared pieces of the resilience tests: the test backend, sidecar stats, load through a client sidecar.
import { fileURLToPath } from 'node:url';
import { runLoad, type LoadResult } from '../../src/load/index.js';
import type { RunningWorkload, TestMesh } from '../helpers/mesh.js';

export const REPLICA = fileURLToPath(new URL('./apps/replica.js', import.meta.url));

/** Runs the test backend as a workload of `service` on `port` (labels and env as given). */
export function replica(mesh: TestMesh, service: string, port: number, labels: string, env: NodeJS.ProcessEnv = {}, name?: string): Promise<RunningWorkload> {
  return mesh.run(['--service', service, '--port', `${port}:http`, '--labels', labels, '--name', name ?? `${service}-${Math.random().toString(36).slice(2, 7)}`],
    [process.execPath, REPLICA], env);
}

/** A sidecar's /stats as a map. */
export async function stats(address: string): Promise<Map<string, number>> {
  const r = await fetch(`http://${address}:15000/stats?format=json`);
  const j = (await r.json()) as { stats: { name: string; value: number }[] };
  return new Map(j.stats.map((s) => [s.name, s.value]));
}

/** One cluster stat (0 when absent). */
export async function clusterStat(address: string, cluster: string, name: string): Promise<number> {
  return (await stats(address)).get(`cluster.${cluster}.${name}`) ?? 0;
}

/** The text /stats, as `curl ADDR:15000/stats | grep X` sees it. */
export async function statsText(address: string): Promise<string> {
  return (await fetch(`http://${address}:15000/stats`)).text();
}

export function outbound(host: string, port: number, ns = 'default', subset = ''): string {
  return `outbound|${port}|${subset}|${host}.${ns}.svc.cluster.local`;
}

/** `weft load` (runLoad) from the client workload: its HTTP_PROXY is the client's sidecar. */
export function loadVia(client: string, url: string, o: { c: number; n: number; qps?: number; headers?: [string, string][]; timeoutMs?: number }): Promise<LoadResult> {
  return runLoad({
    url, connections: o.c, requests: o.n, qps: o.qps ?? 0, headers: o.headers, timeoutMs: o.timeoutMs ?? 10_000,
    env: { HTTP_PROXY: `http://${client}:15001` },
  });
}

export function code(r: LoadResult, status: number): number {
  return r.retCodes.get(status) ?? 0;
}

/** Counts requests a replica saw. */
export async function seen(w: RunningWorkload, port: number): Promise<number> {
  const a = (await w.workload()).address;
  return Number(await (await fetch(`http://${a}:${port}/__count`)).text());
}
