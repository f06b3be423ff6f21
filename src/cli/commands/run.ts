// `weft run`: start any program as a mesh workload on this machine (Weft's pod + sidecar).
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { Workload } from '../../model/index.js';
import { controlPlaneUrl, weftdRequest, type MeshInfo } from '../control-plane.js';
import { EXIT, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';
import { exited, freePort, httpOk, sleep, spawnProxy, tcpOpen, waitFor } from '../processes.js';
import { SUPERVISED_STDIO, signalGroup, tellChild } from '../supervision.js';

/** How long a terminating workload keeps serving (app and sidecar) while peers drop its endpoint. */
const ENDPOINT_REMOVAL_MS = 1000;
/** How long the sidecar lets in-flight requests finish once the app has exited. */
const SIDECAR_DRAIN_MS = 5000;
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
/** Signals that stop the workload gracefully (SIGHUP: the terminal closed). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface RunSpec {
  service?: string;
  ports: { port: number; name: string }[];
  namespace: string;
  labels: Record<string, string>;
  appPort?: number;
  serviceAccount: string;
  name: string;
  locality?: string;
  /** Where the sidecar reaches weftd's xDS (default: the address weftd advertises), like Istio's discoveryAddress. */
  xdsAddress?: string;
  command: string[];
}

export function parseRunArgs(argv: string[]): RunSpec & { controlPlane?: string; quiet: boolean } {
  const dash = argv.indexOf('--');
  const flags = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({ args: flags, allowPositionals: true, options: {
    service: { type: 'string' },
    port: { type: 'string', multiple: true },
    namespace: { type: 'string', short: 'n' },
    version: { type: 'string' },
    labels: { type: 'string' },
    'app-port': { type: 'string' },
    'service-account': { type: 'string' },
    name: { type: 'string' },
    locality: { type: 'string' },
    'xds-address': { type: 'string' },
    'control-plane': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  } });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}": put the program after --, e.g. weft run --service web --port 8080 -- node server.js`);
  if (command.length === 0) throw new UsageError('no program to run: weft run [flags] -- COMMAND ARGS...');
  const ports = (values.port ?? []).map((p) => {
    const [num, name] = p.split(':');
    const port = Number(num);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port ${p}: port must be 1-65535`);
    return { port, name: name ?? `http-${port}` };
  });
  if (ports.length && !values.service) throw new UsageError('--port needs --service NAME');
  const labels: Record<string, string> = {};
  if (values.service) labels.app = values.service;
  if (values.version) labels.version = values.version;
  for (const kv of (values.labels ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--labels ${kv}: expected key=value`);
    labels[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const suffix = randomBytes(3).toString('hex').slice(0, 5);
  const base = values.service ? `${values.service}-${values.version ?? 'v1'}` : 'client';
  const appPort = values['app-port'] ? Number(values['app-port']) : undefined;
  const xds = values['xds-address'];
  if (xds !== undefined && !/^[^\s:]+:\d{1,5}$/.test(xds)) throw new UsageError(`--xds-address ${xds}: expected HOST:PORT`);
  if (appPort !== undefined && (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535)) throw new UsageError('--app-port must be 1-65535');
  return {
    service: values.service, ports, namespace: values.namespace ?? 'default', labels, appPort,
    serviceAccount: values['service-account'] ?? values.service ?? 'default',
    name: values.name ?? `${base}-${suffix}`, locality: values.locality, xdsAddress: xds, command,
    controlPlane: values['control-plane'], quiet: values.quiet ?? false,
  };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const spec = parseRunArgs(argv);
  const api = controlPlaneUrl(spec.controlPlane, io.env);
  const log = (m: string) => { if (!spec.quiet) io.err.write(`[weft run ${spec.name}] ${m}\n`); };
  const mesh = await weftdRequest<MeshInfo>(api, 'GET', '/apis/weft.dev/v1/mesh', io);
  const appPort = spec.ports.length ? (spec.appPort ?? (await freePort())) : undefined;
  const ports: Record<string, number> = {};
  for (const p of spec.ports) ports[p.name] = p.port;
  const wlPath = `/apis/weft.dev/v1/namespaces/${spec.namespace}/workloads`;
  const workload = await weftdRequest<Workload>(api, 'POST', wlPath, io, {
    name: spec.name, namespace: spec.namespace, labels: spec.labels, serviceAccount: spec.serviceAccount,
    ports, appPort, locality: spec.locality, ready: spec.ports.length === 0,
  });
  log(`workload ${spec.namespace}/${spec.name} at ${workload.address}${appPort ? `, app port ${appPort}` : ''}`);
  const deregister = () => weftdRequest(api, 'DELETE', `${wlPath}/${spec.name}`, io).catch(() => undefined);
  // Terminating, like a Kubernetes pod: out of its services' endpoints, but still registered, so its
  // own sidecar keeps its inbound listeners (deregistering removes them) until the app has exited.
  const leaveEndpoints = () => weftdRequest(api, 'PUT', `${wlPath}/${spec.name}/ready`, io, { ready: false }).catch(() => undefined);

  // A single-use join token lets the sidecar get a certificate for this service account only (env, not argv).
  const join = await weftdRequest<{ token: string }>(api, 'POST', `/apis/weft.dev/v1/namespaces/${spec.namespace}/jointokens`, io, { serviceAccount: spec.serviceAccount });
  // Supervised: the sidecar follows this process over an IPC channel and exits (stopping the app) when it dies.
  const proxy = spawnProxy(['--xds', spec.xdsAddress ?? mesh.xdsAddress, '--address', workload.address, '--name', spec.name,
    '--namespace', spec.namespace, '--service-account', spec.serviceAccount, '--control-plane', api, '--supervised'],
  // Its own process group too: a signal to weft run's group (Ctrl-C, a closed terminal, kill -9 -PGID)
  // reaches weft run only, which orders the stop, or whose death the sidecar notices.
  { env: { ...io.env, WEFT_JOIN_TOKEN: join.token }, stdio: SUPERVISED_STDIO, detached: true });
  proxy.on('error', () => { /* reported through its exit */ });
  // A signal while the sidecar starts must not leave it running without us: stop it and deregister.
  let earlySignal: NodeJS.Signals | undefined;
  // It serves nothing yet, and may not listen to its channel yet: killed outright.
  const onEarlySignal = (s: NodeJS.Signals) => { earlySignal = s; proxy.kill('SIGKILL'); };
  for (const s of STOP_SIGNALS) process.on(s, onEarlySignal);
  try {
    // Generous: a cold Node.js process on a loaded 2-core machine can take many seconds; a sidecar that
    // dies is noticed at once (waitFor watches the process).
    await waitFor('sidecar', () => httpOk(`http://${workload.address}:15000/ready`), 60_000, proxy);
    if (earlySignal) throw new Error(earlySignal);
  } catch (e) {
    await stopSidecar(proxy, 0);
    await deregister();
    if (earlySignal) {
      log(`${earlySignal} before the app started: sidecar stopped, workload deregistered`);
      return 128 + (SIGNAL_NUMBERS[earlySignal] ?? 15);
    }
    io.err.write(`weft run: ${(e as Error).message}\n`);
    return EXIT.invalid;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onEarlySignal);
  }
  log(`sidecar ready (admin http://${workload.address}:15000)`);

  const proxyUrl = `http://${workload.address}:15001`;
  const env: NodeJS.ProcessEnv = {
    ...io.env,
    HOST: '127.0.0.1', WEFT_WORKLOAD_IP: workload.address, WEFT_WORKLOAD_NAME: spec.name, WEFT_NAMESPACE: spec.namespace,
    HTTP_PROXY: proxyUrl, http_proxy: proxyUrl, NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1',
    ...(appPort ? { PORT: String(appPort) } : {}),
    ...(spec.service ? { WEFT_SERVICE: spec.service } : {}),
  };
  // Its own process group (and session): a terminal's Ctrl-C reaches this process, which takes the
  // workload out of the endpoints first and then signals the app; the sidecar can stop the whole group if this process dies.
  const app = spawn(spec.command[0], spec.command.slice(1), { env, stdio: ['inherit', 'inherit', 'inherit'], detached: true });
  const appExit = exited(app);
  let spawnError: Error | undefined;
  app.once('error', (e) => { spawnError = e; });
  if (app.pid) tellChild(proxy, { type: 'app', pgid: app.pid, api, workloadPath: `${wlPath}/${spec.name}` });
  const signalApp = (s: NodeJS.Signals) => { if (app.pid && !signalGroup(app.pid, s)) app.kill(s); };

  let stopping: NodeJS.Signals | undefined;
  let leftAt: number | undefined;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: killing the app now`);
      signalApp('SIGKILL');
      return;
    }
    stopping = signal;
    log(`${signal}: leaving the service endpoints, ${ENDPOINT_REMOVAL_MS} ms for other sidecars to drop this one, then stopping the app`);
    await leaveEndpoints();
    leftAt = Date.now();
    // Istio's drain: app and sidecar keep serving (in-flight and late requests) while peers drop the endpoint.
    await Promise.race([sleep(ENDPOINT_REMOVAL_MS), appExit]);
    if (app.exitCode === null && app.signalCode === null) signalApp(signal);
  };
  const onSignal = (s: NodeJS.Signals) => { void stop(s); };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  // A workload without its sidecar is broken (no inbound, no outbound): stop it like a signal would.
  proxy.once('exit', (code, sig) => {
    if (stopping || app.exitCode !== null || app.signalCode !== null) return;
    log(`the sidecar exited (${sig ?? code}): stopping the app`);
    void stop('SIGTERM');
  });

  if (appPort) {
    // Ready once the app accepts connections: only then does it join its service's endpoints.
    void waitFor('app', () => tcpOpen('127.0.0.1', appPort), 120_000, app)
      .then(() => { if (!stopping) return weftdRequest(api, 'PUT', `${wlPath}/${spec.name}/ready`, io, { ready: true }); })
      .then(() => { if (!stopping) log('app ready, joined the service endpoints'); })
      .catch((e: unknown) => { if (!stopping) log(`app not ready: ${(e as Error).message}`); });
  }

  const { code, signal } = await appExit;
  // Like a container whose main process ended: whatever it left in its group goes too.
  if (app.pid) signalGroup(app.pid, 'SIGKILL');
  for (const s of STOP_SIGNALS) process.off(s, onSignal);
  if (spawnError) io.err.write(`weft run: cannot start ${spec.command[0]}: ${spawnError.message}\n`);
  if (leftAt === undefined) {
    await leaveEndpoints();
    leftAt = Date.now();
  }
  // Like Istio's termination drain: the sidecar keeps answering (503s its peers retry elsewhere) until
  // the endpoint removal has reached the other sidecars, instead of resetting their keep-alive requests.
  const propagated = leftAt + ENDPOINT_REMOVAL_MS - Date.now();
  if (propagated > 0) await sleep(propagated);
  await deregister();
  // Then the sidecar drains: no new connections, in-flight requests finish.
  await stopSidecar(proxy, SIDECAR_DRAIN_MS);
  log(`app exited (${signal ?? code})`);
  if (spawnError) return 127;
  return code ?? (signal ? 128 + (SIGNAL_NUMBERS[signal] ?? 15) : 0);
}

/** Tells the supervised sidecar to drain and exit; SIGKILL if it has not within drainMs + 5 s. */
async function stopSidecar(proxy: ChildProcess, drainMs: number): Promise<void> {
  if (proxy.exitCode !== null || proxy.signalCode !== null) return;
  const gone = exited(proxy);
  tellChild(proxy, { type: 'stop', drainMs });
  const timer = setTimeout(() => proxy.kill('SIGKILL'), drainMs + 5000);
  await gone;
  clearTimeout(timer);
}
