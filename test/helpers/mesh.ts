// A real mesh for end-to-end tests: weftd in-process, sidecars and apps as real processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { stopChild, waitFor, freePort } from '../../src/cli/processes.js';
import type { Workload } from '../../src/model/index.js';
import { startTestWeftd } from './weftd.js';
import type { WeftdOptions } from '../../src/weftd/weftd.js';
import { ApiClient } from '../../src/api/client.js';
import { parseText, hasErrors, formatDiagnostic } from '../../src/config/index.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const WEFT = `${ROOT}bin/weft.js`;
export const SAMPLES = `${ROOT}dist/samples`;

export interface RunningWorkload { child: ChildProcess; name: string; namespace: string; output(): string; workload(): Promise<Workload> }

export class TestMesh {
  readonly children: ChildProcess[] = [];
  client!: ApiClient;
  weftd!: Awaited<ReturnType<typeof startTestWeftd>>;

  static async start(opts: WeftdOptions = {}): Promise<TestMesh> {
    const m = new TestMesh();
    m.weftd = await startTestWeftd(opts);
    m.client = new ApiClient(m.weftd.apiUrl, { token: m.weftd.adminToken });
    return m;
  }

  /** Applies YAML text through the API (atomic), failing the test on validation errors. */
  async apply(yaml: string, file = 'test.yaml'): Promise<void> {
    const r = parseText(yaml, file);
    if (hasErrors(r.diagnostics)) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
    await this.client.apply(r.documents.map((d) => d.resource), {});
  }

  async remove(yaml: string): Promise<void> {
    const r = parseText(yaml, 'delete.yaml');
    await this.client.apply(r.documents.map((d) => d.resource), { delete: true });
  }

  /** `weft run ARGS -- COMMAND`; resolves once the workload is registered and its sidecar ready. */
  async run(args: string[], command: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningWorkload> {
    const nameIdx = args.indexOf('--name');
    const name = nameIdx >= 0 ? args[nameIdx + 1] : `w${Math.random().toString(36).slice(2, 8)}`;
    const nsIdx = args.indexOf('--namespace');
    const namespace = nsIdx >= 0 ? args[nsIdx + 1] : 'default';
    const child = spawn(process.execPath, [WEFT, 'run', ...(nameIdx >= 0 ? [] : ['--name', name]), ...args, '--control-plane', this.weftd.apiUrl, '--', ...command], {
      env: { ...process.env, ...env, WEFT_CONTROL_PLANE: this.weftd.apiUrl }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    this.children.push(child);
    const wl = async () => {
      const w = this.weftd.workloads.get(namespace, name);
      if (!w) throw new Error(`workload ${namespace}/${name} not registered`);
      return w;
    };
    await waitFor(`workload ${name}`, async () => {
      const w = this.weftd.workloads.get(namespace, name);
      return !!w && (args.includes('--port') ? w.ready === true : true) && (await adminReady(w.address));
    }, 60_000, child).catch((e: Error) => { throw new Error(`${e.message}\n--- output of weft run ${name}:\n${out}`); });
    return { child, name, namespace, output: () => out, workload: wl };
  }

  /** Runs a sample app (compiled under dist/samples) as a mesh workload. */
  runSample(service: string, version: string, script: string, port: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningWorkload> {
    return this.run(['--service', service, '--port', `${port}:http`, '--version', version, '--name', `${service}-${version}-${Math.random().toString(36).slice(2, 6)}`],
      [process.execPath, `${SAMPLES}/${script}`, ...extra], env);
  }

  /** Applies a YAML file (a seed fixture, a sample's networking YAML). */
  applyFile(path: string): Promise<void> {
    return this.apply(readFileSync(path, 'utf8'), path);
  }

  /**
   * The ingress gateway as `weft up` starts it (src/cli/commands/up.ts startMesh): a router proxy
   * labelled istio=ingressgateway in istio-system. Its ports are bound per the mesh `gatewayPortMap`.
   */
  async startGateway(): Promise<RunningWorkload> {
    const gw = this.weftd.workloads.register({
      name: 'istio-ingressgateway', namespace: 'istio-system', serviceAccount: 'istio-ingressgateway-service-account',
      labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' }, ports: {}, ready: true,
    });
    const child = spawn(process.execPath, [WEFT, 'proxy', '--kind', 'router', '--xds', this.weftd.xdsAddress, '--address', gw.address,
      '--name', gw.name, '--namespace', gw.namespace, '--service-account', gw.serviceAccount, '--control-plane', this.weftd.apiUrl], { stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      env: { ...process.env, WEFT_JOIN_TOKEN: this.weftd.issueJoinToken(gw.namespace, gw.serviceAccount) } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    this.children.push(child);
    await waitFor('ingress gateway', () => adminReady(gw.address), 60_000, child)
      .catch((e: Error) => { throw new Error(`${e.message}\n--- gateway output:\n${out}`); });
    return { child, name: gw.name, namespace: gw.namespace, output: () => out, workload: () => Promise.resolve(gw) };
  }

  /** A workload with no ports whose app just idles: a client whose sidecar tests send requests through. */
  runClient(name: string, namespace = 'default'): Promise<RunningWorkload> {
    return this.run(['--name', name, '--namespace', namespace], [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => stopGroup(c, 5000)));
    await this.weftd.cleanup();
  }
}

/**
 * Stops a child started with `detached: true` (its own process group): SIGTERM to it, then SIGKILL to
 * the whole group, so a sidecar or app it started never outlives a test (they hold our stdout pipes).
 */
export async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  await stopChild(child, graceMs);
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}

async function adminReady(address: string): Promise<boolean> {
  const res = await fetch(`http://${address}:15000/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
  if (!res) return false;
  await res.arrayBuffer();
  return res.ok;
}

/** Sends one request through a sidecar's outbound HTTP proxy (absolute-form), like an app with HTTP_PROXY. */
export function viaSidecar(sidecarAddress: string, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: sidecarAddress, port: 15001, method: opts.method ?? 'GET', path: url, headers: { ...(opts.headers ?? {}), host: new URL(url).host }, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export { waitFor, freePort };
