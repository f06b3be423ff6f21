// The mesh of the protocols benchmark: an in-process weftd, one client-only sidecar, and one server
// sidecar per upstream (a workload has a single appPort): an h2c upstream behind a Service port named
// `http2`, a gRPC upstream behind `grpc`, and an HTTP/1.1 upstream behind `http` whose DestinationRule
// sets `maxRequestsPerConnection: 1` (every request a new sidecar-to-sidecar connection: a handshake
// per request with mTLS). With mTLS, a mesh-wide PeerAuthentication STRICT proves traffic is mTLS.
import { performance } from 'node:perf_hooks';
import { WEFT_BIN, proxyNodeArgs } from '../../src/cli/processes.js';
import type { Resource } from '../../src/model/index.js';
import { startWeftd, type Weftd } from '../../src/weftd/weftd.js';
import { pollUntil, startProcess, stopProcess, type Started } from '../dataplane/processes.js';

const NS = 'default';

/** One upstream of the mesh: the Service name, its port (and port name) and the app's port on 127.0.0.1. */
export interface MeshUpstream { key: string; service: string; port: number; portName: string; appPort: number; maxRequestsPerConnection?: number }

export interface WeftSidecar extends Started { address: string; readyMs: number }

export interface ProtocolMesh {
  client: WeftSidecar;
  /** Server sidecar per upstream key. */
  servers: Record<string, WeftSidecar>;
  /** The client sidecar's outbound listener (ADDRESS:15001). */
  outboundHost: string;
  outboundPort: number;
  /** Authority (`service:port`) per upstream key. */
  authority: Record<string, string>;
  weftd: Weftd;
  stop(): Promise<void>;
}

async function adminReady(address: string): Promise<boolean> {
  const res = await fetch(`http://${address}:15000/ready`, { signal: AbortSignal.timeout(500) });
  await res.arrayBuffer();
  return res.status === 200;
}

/** The sidecar's admin counters (`/stats?format=json`) as name -> value. */
export async function sidecarStats(address: string): Promise<Map<string, number>> {
  const res = await fetch(`http://${address}:15000/stats?format=json`, { signal: AbortSignal.timeout(3000) });
  const body = (await res.json()) as { stats?: { name: string; value?: number }[] };
  return new Map((body.stats ?? []).filter((s) => typeof s.value === 'number').map((s) => [s.name, s.value as number]));
}

async function startSidecar(weftd: Weftd, name: string, address: string, core: number | undefined, mtls: boolean): Promise<WeftSidecar> {
  const t0 = performance.now();
  // The Node.js flags `weft run` starts sidecars with, then the bench's own.
  const nodeArgs = [...proxyNodeArgs(), ...(process.env.WEFT_BENCH_SIDECAR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
  const args = [...nodeArgs, WEFT_BIN, 'proxy', '--xds', weftd.xdsAddress, '--address', address, '--name', name, '--namespace', NS,
    ...(mtls ? ['--control-plane', weftd.apiUrl, '--service-account', 'default'] : ['--insecure-xds'])];
  // mTLS: the sidecar gets its certificate with a join token from the environment, as `weft run` does.
  if (mtls) process.env.WEFT_JOIN_TOKEN = weftd.issueJoinToken(NS, 'default');
  let s: Started;
  try {
    s = startProcess(`weft sidecar ${name}`, process.execPath, args, core);
  } finally {
    delete process.env.WEFT_JOIN_TOKEN;
  }
  try {
    const readyMs = await pollUntil(`weft sidecar ${name} /ready`, () => adminReady(address), t0, 20_000, s, 10);
    return Object.assign(s, { address, readyMs });
  } catch (e) {
    await stopProcess(s);
    throw e;
  }
}

function resources(upstreams: readonly MeshUpstream[], mtls: boolean): Resource[] {
  const out: Resource[] = [];
  for (const u of upstreams) {
    out.push({
      apiVersion: 'v1', kind: 'Service', metadata: { name: u.service, namespace: NS },
      spec: { selector: { app: u.service }, ports: [{ name: u.portName, port: u.port, targetPort: u.port }] },
    });
    if (u.maxRequestsPerConnection !== undefined) {
      out.push({
        apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: u.service, namespace: NS },
        spec: { host: u.service, trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: u.maxRequestsPerConnection } } } },
      });
    }
  }
  if (mtls) {
    out.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } });
  }
  return out;
}

/** Starts weftd, the server sidecars and the client sidecar; throws (with everything stopped) when a piece does not start. */
export async function startProtocolMesh(upstreams: readonly MeshUpstream[], core: number | undefined, mtls: boolean, addressBase: string): Promise<ProtocolMesh> {
  const logs: string[] = [];
  const weftd = await startWeftd({ apiPort: 0, xdsPort: 0, addressBase, insecureXds: !mtls, log: (l) => { logs.push(l); if (logs.length > 50) logs.shift(); } });
  const started: Started[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => stopProcess(s)));
    await weftd.close();
  };
  try {
    await weftd.store.apply(resources(upstreams, mtls).map((resource) => ({ op: 'put' as const, resource })));
    const servers: Record<string, WeftSidecar> = {};
    const authority: Record<string, string> = {};
    for (const u of upstreams) {
      const wl = weftd.workloads.register({
        name: `${u.service}-0`, namespace: NS, labels: { app: u.service }, serviceAccount: 'default',
        ports: { [u.portName]: u.port }, appPort: u.appPort, ready: false,
      });
      const s = await startSidecar(weftd, wl.name, wl.address, core, mtls);
      started.push(s);
      weftd.workloads.setReady(NS, wl.name, true);
      servers[u.key] = s;
      authority[u.key] = `${u.service}:${u.port}`;
    }
    const clientWl = weftd.workloads.register({ name: 'bench-client', namespace: NS, labels: { app: 'bench-client' }, serviceAccount: 'default', ports: {}, ready: true });
    const client = await startSidecar(weftd, clientWl.name, clientWl.address, core, mtls);
    started.push(client);
    return { client, servers, outboundHost: client.address, outboundPort: 15001, authority, weftd, stop };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message} (weftd: ${logs.slice(-3).join(' | ')})`);
  }
}
