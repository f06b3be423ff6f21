// The mesh of the load-balancing and fault tests: three replicas of service lb (lb-2 slow, all closing
// idle keep-alive connections after 1 s), a shadow service, a client; one DestinationRule subset per
// LB policy and a VirtualService choosing by the x-case header.
import { Agent } from 'node:http';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { pollUntil, send, type Reply } from '../e2e/helpers.js';
import { replica } from './helpers.js';

export interface LbMesh {
  mesh: TestMesh;
  clientAddr: string;
  replicas: RunningWorkload[];
  shadow: RunningWorkload;
  /** One call to lb:9000 with x-case `header` through the client sidecar. */
  call(header: string, extra?: Record<string, string>, path?: string): Promise<Reply>;
  stop(): Promise<void>;
}

export const CONFIG = `
apiVersion: v1
kind: Service
metadata: { name: lb }
spec:
  selector: { app: lb }
  ports: [{ name: http, port: 9000 }]
---
apiVersion: v1
kind: Service
metadata: { name: shadow }
spec:
  selector: { app: shadow }
  ports: [{ name: http, port: 9001 }]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: lb }
spec:
  host: lb
  subsets:
  - { name: rr, labels: { app: lb }, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
  - { name: random, labels: { app: lb }, trafficPolicy: { loadBalancer: { simple: RANDOM } } }
  - { name: lr, labels: { app: lb }, trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } } }
  - { name: hash, labels: { app: lb }, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } } }
  - name: od
    labels: { app: lb }
    trafficPolicy:
      loadBalancer: { simple: ROUND_ROBIN }
      outlierDetection: { consecutive5xxErrors: 2, interval: 0.5s, baseEjectionTime: 2s, maxEjectionPercent: 50 }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: lb }
spec:
  hosts: [lb]
  http:
  - match: [{ headers: { x-case: { exact: abort50 } } }]
    fault: { abort: { percentage: { value: 50 }, httpStatus: 500 } }
    route: [{ destination: { host: lb, subset: rr } }]
  - match: [{ headers: { x-case: { exact: delay10 } } }]
    fault: { delay: { percentage: { value: 10 }, fixedDelay: 1.5s } }
    route: [{ destination: { host: lb, subset: rr } }]
  - match: [{ headers: { x-case: { exact: mirror } } }]
    route: [{ destination: { host: lb, subset: rr } }]
    mirror: { host: shadow }
    mirrorPercentage: { value: 100 }
  - match: [{ uri: { prefix: /old }, headers: { x-case: { exact: redirect } } }]
    redirect: { uri: /new/place, authority: www.example.com, redirectCode: 302 }
  - match: [{ uri: { prefix: /api/ }, headers: { x-case: { exact: rewrite } } }]
    rewrite: { uri: /, authority: backend.internal }
    route: [{ destination: { host: lb, subset: rr } }]
  - match: [{ headers: { x-case: { exact: random } } }]
    route: [{ destination: { host: lb, subset: random } }]
  - match: [{ headers: { x-case: { exact: lr } } }]
    route: [{ destination: { host: lb, subset: lr } }]
  - match: [{ headers: { x-case: { exact: hash } } }]
    route: [{ destination: { host: lb, subset: hash } }]
  - match: [{ headers: { x-case: { exact: od } } }]
    route: [{ destination: { host: lb, subset: od } }]
    retries: { attempts: 0 }
  - route: [{ destination: { host: lb, subset: rr } }]
`;

export const instance = (r: Reply): string => /instance=(\S+)/.exec(r.body)?.[1] ?? `?${r.status}`;


/** `n` calls, `c` at a time; returns the replies in completion order with their latency (ms). */
export async function fanOut(n: number, c: number, one: (i: number) => Promise<Reply>): Promise<{ r: Reply; ms: number }[]> {
  const out: { r: Reply; ms: number }[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      const r = await one(i);
      out.push({ r, ms: performance.now() - t0 });
    }
  }));
  return out;
}

export function tally(rs: { r: Reply }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const { r } of rs) m.set(instance(r), (m.get(instance(r)) ?? 0) + 1);
  return m;
}

export async function startLbMesh(): Promise<LbMesh> {
  const mesh = await TestMesh.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    await mesh.apply(CONFIG);
    const started = await Promise.all([
      ...[0, 1, 2].map((i) => replica(mesh, 'lb', 9000, 'app=lb', { KEEPALIVE_MS: '1000', ...(i === 2 ? { DELAY_MS: '100' } : {}) }, `lb-${i}`)),
      replica(mesh, 'shadow', 9001, 'app=shadow', {}, 'shadow'),
      mesh.runClient('client'),
    ]);
    const clientAddr = (await started[4].workload()).address;
    const call = (header: string, extra: Record<string, string> = {}, path = '/'): Promise<Reply> =>
      send({ host: clientAddr, port: 15001, path: `http://lb:9000${path}`, headers: { 'x-case': header, ...extra } }, agent, 10_000);
    await pollUntil('all three replicas through the client sidecar', async () => tally(await fanOut(12, 3, () => call('rr'))).size === 3, 20_000);
    return {
      mesh, clientAddr, replicas: started.slice(0, 3), shadow: started[3], call,
      stop: async () => {
        agent.destroy();
        await mesh.stop();
      },
    };
  } catch (e) {
    agent.destroy();
    await mesh.stop();
    throw e;
  }
}
