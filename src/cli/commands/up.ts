// `weft up`: weftd in the foreground, plus one ingress gateway proxy (Istio's istio-ingressgateway).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWeftd, type Weftd, type WeftdOptions } from '../../weftd/weftd.js';
import { readFileSync } from 'node:fs';
import { parseDurationMs } from '../../xds/protos.js';
import { CliError, UsageError } from '../errors.js';
import { parseMeshConfig } from '../../config/index.js';
import type { MeshConfig } from '../../registry/snapshot.js';
import type { CliIO } from '../io.js';
import { httpOk, spawnProxy, stopChild, waitFor } from '../processes.js';
import type { ChildProcess } from 'node:child_process';

export function parsePortMap(spec: string | undefined): Record<number, number> {
  const map: Record<number, number> = {};
  for (const pair of (spec ?? '').split(',').filter(Boolean)) {
    const [from, to] = pair.split(':').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < 1 || from > 65535 || to > 65535) {
      throw new UsageError(`--ingress-port-map ${pair}: expected GATEWAYPORT:HOSTPORT, e.g. 80:8080`);
    }
    map[from] = to;
  }
  return map;
}

export interface MeshUp { weftd: Weftd; gateway?: ChildProcess; gatewayAddress?: string; stop(): Promise<void> }

/** Starts weftd and the gateway; used by `weft up` and `weft demo`. */
export async function startMesh(o: {
  dataDir?: string; host?: string; apiPort?: number; xdsPort?: number; addressBase?: string;
  portMap?: Record<number, number>; gateway?: boolean; io: CliIO;
  /** Istio mesh config read from `--mesh-config FILE` (extensionProviders, trust domain and aliases, localityLbSetting). */
  meshConfig?: MeshFromFile;
  /** CA, certificate TTL and xDS transport (src/weftd/ca-routes.ts). */
  security?: Pick<WeftdOptions, 'ca' | 'insecureXds'>;
}): Promise<MeshUp> {
  const weftd = await startWeftd({ ...o.security,
    dataDir: o.dataDir, host: o.host, apiPort: o.apiPort, xdsPort: o.xdsPort, addressBase: o.addressBase,
    mesh: { ...(o.portMap && Object.keys(o.portMap).length ? { gatewayPortMap: o.portMap } : {}), ...(o.meshConfig ?? {}) },
    log: (l) => o.io.err.write(`weftd: ${l}\n`),
  });
  if (o.gateway === false) return { weftd, stop: () => weftd.close() };
  const gw = weftd.workloads.register({
    name: 'istio-ingressgateway', namespace: 'istio-system', serviceAccount: 'istio-ingressgateway-service-account',
    labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' }, ports: {}, ready: true,
  });
  const gateway = spawnProxy(['--kind', 'router', '--xds', weftd.xdsAddress, '--address', gw.address,
    '--name', gw.name, '--namespace', gw.namespace, '--service-account', gw.serviceAccount, '--control-plane', weftd.apiUrl],
  { env: { ...o.io.env, WEFT_JOIN_TOKEN: weftd.issueJoinToken(gw.namespace, gw.serviceAccount) } });
  gateway.once('exit', (code, signal) => { if (!stopping) o.io.err.write(`weft up: the ingress gateway exited (${signal ?? code})\n`); });
  let stopping = false;
  await waitFor('ingress gateway', () => httpOk(`http://${gw.address}:15000/ready`), 60_000, gateway);
  o.io.err.write(`weftd: ingress gateway istio-system/istio-ingressgateway at ${gw.address} (admin http://${gw.address}:15000)\n`);
  return {
    weftd, gateway, gatewayAddress: gw.address,
    async stop() {
      stopping = true;
      await stopChild(gateway, 5000);
      await weftd.close();
    },
  };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    'data-dir': { type: 'string' },
    'api-port': { type: 'string' },
    'xds-port': { type: 'string' },
    host: { type: 'string' },
    'address-base': { type: 'string' },
    'ingress-port-map': { type: 'string' },
    'no-gateway': { type: 'boolean' },
    'ca-cert': { type: 'string' },
    'ca-key': { type: 'string' },
    'ca-chain': { type: 'string' },
    'workload-cert-ttl': { type: 'string' },
    'insecure-xds': { type: 'boolean' },
    'mesh-config': { type: 'string' },
  } });
  const security = securityOptions(values);
  const meshConfig = values['mesh-config'] === undefined ? undefined : readMeshConfig(values['mesh-config']);
  const port = (v: string | undefined, flag: string, def: number) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number`);
    return n;
  };
  const dataDir = values['data-dir'] ?? io.env.WEFT_DATA_DIR ?? join(io.env.HOME ?? '.', '.weft');
  const mesh = await startMesh({
    dataDir, host: values.host, apiPort: port(values['api-port'], '--api-port', 15014), xdsPort: port(values['xds-port'], '--xds-port', 15010),
    addressBase: values['address-base'], portMap: parsePortMap(values['ingress-port-map']), gateway: !values['no-gateway'], io, security, meshConfig,
  });
  io.err.write('weftd: ready. Ctrl-C stops the control plane and the gateway.\n');
  await new Promise<void>((resolve) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.err.write('weftd: stopping\n');
  await mesh.stop();
  return 0;
}

/** `--ca-cert/--ca-key[/--ca-chain]` (PEM files), `--workload-cert-ttl 24h`, `--insecure-xds`. */
function securityOptions(v: { 'ca-cert'?: string; 'ca-key'?: string; 'ca-chain'?: string; 'workload-cert-ttl'?: string; 'insecure-xds'?: boolean }): Pick<WeftdOptions, 'ca' | 'insecureXds'> {
  const read = (flag: string, file: string | undefined): string | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`${flag} ${file}: ${(e as Error).message}`);
    }
  };
  if (Boolean(v['ca-cert']) !== Boolean(v['ca-key'])) throw new UsageError('--ca-cert and --ca-key go together');
  let ttlMs: number | undefined;
  if (v['workload-cert-ttl'] !== undefined) {
    ttlMs = parseDurationMs(v['workload-cert-ttl']);
    if (!ttlMs || ttlMs < 10_000) throw new UsageError('--workload-cert-ttl must be a duration of at least 10s, e.g. 24h');
  }
  return {
    ca: { caCertPem: read('--ca-cert', v['ca-cert']), caKeyPem: read('--ca-key', v['ca-key']), caChainPem: read('--ca-chain', v['ca-chain']), workloadCertTtlMs: ttlMs },
    insecureXds: v['insecure-xds'],
  };
}

type MeshFromFile = Partial<Pick<MeshConfig, 'extensionProviders' | 'trustDomain' | 'trustDomainAliases' | 'localityLbSetting'>>;

/** `--mesh-config FILE`: a MeshConfig, IstioOperator or `istio` ConfigMap (src/config/mesh-config.ts). */
function readMeshConfig(file: string): MeshFromFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--mesh-config ${file}: ${(e as Error).message}`);
  }
  try {
    const m = parseMeshConfig(text, file);
    // Only the fields the file sets: an undefined one would override weftd's default (e.g. cluster.local).
    const out: MeshFromFile = { extensionProviders: m.extensionProviders };
    if (m.trustDomain !== undefined) out.trustDomain = m.trustDomain;
    if (m.trustDomainAliases !== undefined) out.trustDomainAliases = m.trustDomainAliases;
    if (m.localityLbSetting !== undefined) out.localityLbSetting = m.localityLbSetting;
    return out;
  } catch (e) {
    throw new CliError(`--mesh-config: ${(e as Error).message}`);
  }
}
