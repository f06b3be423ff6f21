// The Weft sidecar pair exactly as the mesh runs it: an in-process weftd, a server workload whose
// sidecar's inbound listener forwards to the upstream, and a client-only workload whose sidecar's
// outbound listener (ADDRESS:15001) routes origin-form requests by Host to bench-upstream:8080.
import { performance } from 'node:perf_hooks';
import { WEFT_BIN, proxyNodeArgs } from '../../src/cli/processes.js';
import { curlOnce } from '../../src/load/index.js';
import type { Resource } from '../../src/model/index.js';
import { startWeftd, type Weftd } from '../../src/weftd/weftd.js';
import { pollUntil, startProcess, stopProcess, type Started } from './processes.js';

export const WEFT_SERVICE = 'bench-upstream';
export const WEFT_SERVICE_PORT = 8080;
const NS = 'default';

export interface WeftSidecar extends Started { address: string; readyMs: number }

export interface WeftPair {
  client: WeftSidecar;
  server: WeftSidecar;
  /** URL and Host header the load generator uses. */
  url: string;
  host: string;
  stop(): Promise<void>;
}

async function adminReady(address: string): Promise<boolean> {
  const res = await fetch(`http://${address}:15000/ready`, { signal: AbortSignal.timeout(500) });
  await res.arrayBuffer();
  return res.status === 200;
}

async function startSidecar(weftd: Weftd, name: string, address: string, core: number | undefined, mtls = false): Promise<WeftSidecar> {
  const t0 = performance.now();
  // The Node.js flags `weft run` starts sidecars with, then the bench's own, e.g.
  // WEFT_BENCH_SIDECAR_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the sidecars under load.
  const nodeArgs = [...proxyNodeArgs(), ...(process.env.WEFT_BENCH_SIDECAR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
  const args = [...nodeArgs, WEFT_BIN, 'proxy', '--xds', weftd.xdsAddress, '--address', address, '--name', name, '--namespace', NS,
    ...(mtls ? ['--control-plane', weftd.apiUrl, '--service-account', 'default'] : ['--insecure-xds'])];
  // mTLS: the sidecar gets a certificate with a join token (from the environment, as weft run does).
  const env = mtls ? { ...process.env, WEFT_JOIN_TOKEN: weftd.issueJoinToken(NS, 'default') } : process.env;
  const s = startProcess(`weft sidecar ${name}`, process.execPath, args, core, undefined, env);
  try {
    const readyMs = await pollUntil(`weft sidecar ${name} /ready`, () => adminReady(address), t0, 15_000, s);
    return Object.assign(s, { address, readyMs });
  } catch (e) {
    await stopProcess(s);
    throw e;
  }
}

/**
 * Starts weftd and both sidecars; throws (with everything stopped) when any piece is not working.
 * `addressBase` (two octets) lets an A/B harness run two pairs of the same kind side by side.
 */
export async function startWeftPair(upstreamPort: number, core: number | undefined, mtls = false, addressBase = mtls ? '127.78' : '127.77'): Promise<WeftPair> {
  const logs: string[] = [];
  const weftd = await startWeftd({ apiPort: 0, xdsPort: 0, addressBase, insecureXds: !mtls, log: (l) => { logs.push(l); if (logs.length > 50) logs.shift(); } });
  const started: Started[] = [];
  try {
    const service: Resource = {
      apiVersion: 'v1', kind: 'Service', metadata: { name: WEFT_SERVICE, namespace: NS },
      spec: { selector: { app: WEFT_SERVICE }, ports: [{ name: 'http', port: WEFT_SERVICE_PORT, targetPort: WEFT_SERVICE_PORT }] },
    };
    await weftd.store.apply([{ op: 'put', resource: service }]);
    const serverWl = weftd.workloads.register({
      name: `${WEFT_SERVICE}-0`, namespace: NS, labels: { app: WEFT_SERVICE }, serviceAccount: 'default',
      ports: { http: WEFT_SERVICE_PORT }, appPort: upstreamPort, ready: false,
    });
    const clientWl = weftd.workloads.register({ name: 'bench-client', namespace: NS, labels: { app: 'bench-client' }, serviceAccount: 'default', ports: {}, ready: true });
    const server = await startSidecar(weftd, serverWl.name, serverWl.address, core, mtls);
    started.push(server);
    weftd.workloads.setReady(NS, serverWl.name, true);
    const client = await startSidecar(weftd, clientWl.name, clientWl.address, core, mtls);
    started.push(client);

    const url = `http://${client.address}:15001/`;
    const host = `${WEFT_SERVICE}:${WEFT_SERVICE_PORT}`;
    let last = '';
    await pollUntil('request through the weft sidecar pair', async () => {
      try {
        const r = await curlOnce({ url, headers: [['Host', host]], timeoutMs: 1000 });
        last = `HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`;
        return r.status === 200 && r.body.length > 0;
      } catch (e) {
        last = (e as Error).message;
        return false;
      }
    }, performance.now(), 10_000, undefined, 50).catch((e: Error) => { throw new Error(`${e.message} (last: ${last}; weftd: ${logs.slice(-3).join(' | ')})`); });

    return {
      client, server, url, host,
      async stop() {
        await Promise.all(started.map((s) => stopProcess(s)));
        await weftd.close();
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => stopProcess(s)));
    await weftd.close();
    throw e;
  }
}
