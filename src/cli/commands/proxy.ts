import { parseArgs } from 'node:util';
import { startProxyAgent, XdsIdentityMissing } from '../../agent/agent.js';
import { CliError, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';

// Certificates and supervision are imported when used: a sidecar's start-up loads only what it runs.

/**
 * `weft proxy --xds HOST:PORT --address IP --name NAME [--namespace NS] [--kind sidecar|router]`.
 * `--supervised` (set by `weft run`, which starts it with an IPC channel): stop when told over the
 * channel, or when `weft run` dies (then also deregister the workload and stop the app's process group).
 */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    xds: { type: 'string' },
    address: { type: 'string' },
    name: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    kind: { type: 'string' },
    'admin-port': { type: 'string' },
    'control-plane': { type: 'string' },
    labels: { type: 'string' },
    'service-account': { type: 'string' },
    'drain-timeout': { type: 'string' },
    'insecure-xds': { type: 'boolean' },
    supervised: { type: 'boolean' },
  } });
  if (values.supervised && !process.send) throw new UsageError('--supervised needs an IPC channel to the parent (weft run starts the sidecar that way)');
  if (!values.xds || !values.address || !values.name) throw new UsageError('--xds HOST:PORT, --address IP and --name NAME are required');
  const kind = values.kind ?? 'sidecar';
  if (kind !== 'sidecar' && kind !== 'router') throw new UsageError('--kind must be sidecar or router');
  const labels: Record<string, string> = {};
  for (const kv of (values.labels ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    labels[k] = v ?? '';
  }
  // The join token comes in the environment (never argv) and is spent on the first certificate.
  const joinToken = io.env.WEFT_JOIN_TOKEN;
  // xDS is TLS unless weftd says it serves plaintext (--insecure-xds there) or we are told so here.
  const bundle = values['control-plane'] && !values['insecure-xds']
    ? await import('../../security/agent-certs.js').then(({ fetchTrustBundle }) => fetchTrustBundle(values['control-plane']!)).catch((e: Error) => { throw new CliError(e.message); })
    : undefined;
  delete process.env.WEFT_JOIN_TOKEN;
  // weftd's TLS xDS authenticates proxies by their workload certificate: without a join token there is none.
  if (bundle?.xdsTls && !joinToken) {
    throw new CliError('weftd serves xDS over mutual TLS and needs this proxy\'s workload certificate: start it with a join token in WEFT_JOIN_TOKEN (weft run does), or use a weftd started with --insecure-xds');
  }
  const agent = await startProxyAgent({
    xdsAddress: values.xds, kind, address: values.address, name: values.name, namespace: values.namespace ?? 'default',
    labels, serviceAccount: values['service-account'], adminPort: values['admin-port'] ? Number(values['admin-port']) : undefined,
    log: (l) => io.err.write(`weft proxy ${values.name}: ${l}\n`),
    certificates: joinToken && values['control-plane'] ? { apiUrl: values['control-plane'], joinToken, trustDomain: bundle?.trustDomain } : undefined,
    xdsRootPem: bundle?.xdsTls ? bundle.rootCert : undefined,
  }).catch((e: unknown) => {
    throw e instanceof XdsIdentityMissing ? new CliError(e.message) : e;
  });
  const drainMs = Number(values['drain-timeout'] ?? 10_000);
  if (values.supervised) {
    const { followParent } = await import('../supervision.js');
    await followParent((ms) => agent.shutdown(Math.min(ms, drainMs)), (l) => io.err.write(`weft proxy ${values.name}: ${l}\n`), io.env).done;
    return 0;
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void agent.shutdown(drainMs).finally(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}
