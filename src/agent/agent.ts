// The proxy agent behind `weft proxy`: bootstraps the node identity, subscribes over ADS, feeds
// every push to the data plane, and ACKs or NACKs it. Dependent subscriptions follow Envoy: the
// clusters decide which endpoints (EDS) to watch, the listeners decide which route configs (RDS).
//
// Start-up order: the data plane's modules (src/proxy, most of a sidecar's code) load while the
// first xDS request is on its way and weftd translates, not before it is sent.
import { createAdsClient, type AdsClient, type ResourceUpdate } from '../xds/client.js';
import { TYPE } from '../xds/protos.js';
import type { NodeInfo } from '../xds/types.js';
import type { Proxy } from '../proxy/index.js';
import { sidecarNodeId, VHDS_METADATA } from '../weftd/proxies.js';
import type { AgentCertOptions } from '../security/agent-certs.js';
import { VIRTUAL_HOST_URL } from '../xds/codec.js';
import { VhdsRoutes } from './vhds.js';

export interface AgentOptions {
  xdsAddress: string;
  kind: 'sidecar' | 'router';
  address: string;
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  adminPort?: number;
  log?: (line: string) => void;
  /** Workload certificate from weftd's CA (src/security/agent-certs.ts); absent = no mTLS. */
  certificates?: Omit<AgentCertOptions, 'namespace' | 'serviceAccount'>;
  /** Root certificate weftd's xDS TLS certificate must chain to; absent = plaintext xDS. With it, `certificates` is required (mutual TLS). */
  xdsRootPem?: string;
}

export interface Agent {
  proxy: Proxy;
  client: AdsClient;
  node: NodeInfo;
  /** Stop accepting, finish in-flight requests (up to timeoutMs), then close everything. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The agent cannot speak to weftd's mutual-TLS xDS: it has no workload certificate. */
export class XdsIdentityMissing extends Error {}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Route config names the listeners ask for through RDS. */
export function rdsNames(listeners: ReadonlyMap<string, Record<string, unknown>>): string[] {
  const names = new Set<string>();
  for (const l of listeners.values()) {
    const chains = [...((l.filter_chains as unknown[]) ?? []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])] as { filters?: { typed_config?: Record<string, unknown> }[] }[];
    for (const fc of chains) {
      for (const f of fc.filters ?? []) {
        const tc = f.typed_config;
        if (tc?.['@type'] === HCM) {
          const rds = tc.rds as { route_config_name?: string } | undefined;
          if (rds?.route_config_name) names.add(rds.route_config_name);
        }
      }
    }
  }
  return [...names].sort();
}

/** EDS service names of the EDS clusters. */
export function edsNames(clusters: ReadonlyMap<string, Record<string, unknown>>): string[] {
  const names = new Set<string>();
  for (const [name, c] of clusters) {
    if (c.type !== 'EDS') continue;
    const cfg = c.eds_cluster_config as { service_name?: string } | undefined;
    names.add(cfg?.service_name || name);
  }
  return [...names].sort();
}

export async function startProxyAgent(opts: AgentOptions): Promise<Agent> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`weft proxy ${opts.name}: ${l}\n`));
  const id = sidecarNodeId(opts.kind, opts.address, opts.name, opts.namespace);
  const node: NodeInfo = {
    id,
    cluster: `${opts.name}.${opts.namespace}`,
    metadata: {
      NAMESPACE: opts.namespace, WORKLOAD_NAME: opts.name, INSTANCE_IPS: opts.address,
      LABELS: opts.labels ?? {}, SERVICE_ACCOUNT: opts.serviceAccount ?? 'default', PROXY_KIND: opts.kind,
      // Delta xDS with virtual hosts over VHDS: a VirtualService change sends its virtual host,
      // not the port's whole route config (a host per service).
      [VHDS_METADATA]: 'true',
    },
    locality: {},
    userAgent: 'weft',
  };
  // Imported here, not statically: see the top of this file.
  const dataPlane = Promise.all([import('../proxy/index.js'), import('../proxy/tls/secrets.js')]);
  let proxy: Proxy | undefined;
  // Certificates that arrive before the proxy exists: installed first thing once it does.
  let earlySecrets: ReadonlyMap<string, object> | undefined;
  const startProxy = async (): Promise<Proxy> => {
    const [{ Proxy: ProxyClass }] = await dataPlane;
    const p = new ProxyClass({ nodeId: id, address: opts.address, adminPort: opts.adminPort ?? 15000, log: { info: () => {}, warn: log, error: log } });
    await p.start();
    if (earlySecrets) {
      const r = p.update(TYPE.secret, earlySecrets);
      if (!r.ok) log(`certificate not installed: ${r.error}`);
    }
    proxy = p;
    return p;
  };
  const proxyStarted = startProxy();
  proxyStarted.catch(() => {}); // awaited below; a failure is thrown from there
  const secretSink = {
    update(typeUrl: string, r: ReadonlyMap<string, object>) {
      if (proxy) return proxy.update(typeUrl, r);
      earlySecrets = r;
      return { ok: true };
    },
  };
  // The certificate comes before xDS: weftd's TLS xDS authenticates the client by it (and the
  // rotated one is presented on the next reconnect).
  // (Imported only then: a plaintext sidecar without certificates does not load it.)
  const security = opts.xdsRootPem || opts.certificates ? await import('../security/agent-certs.js') : undefined;
  const identity = opts.xdsRootPem ? new security!.XdsCertificateProvider(opts.xdsRootPem) : undefined;
  let certs: Awaited<ReturnType<typeof import('../security/agent-certs.js').startAgentCerts>>;
  try {
    certs = opts.certificates && await security!.startAgentCerts({ ...opts.certificates, namespace: opts.namespace, serviceAccount: opts.serviceAccount ?? 'default' },
      secretSink, log, (c) => identity?.update(c));
  } catch (e) {
    await proxyStarted.then((p) => p.close(), () => {});
    throw e;
  }
  if (identity && !certs) {
    await proxyStarted.then((p) => p.close(), () => {});
    throw new XdsIdentityMissing(`weftd serves xDS over TLS and authenticates every proxy by its workload certificate, and this proxy has none (${
      opts.certificates ? 'the certificate request failed, see above' : 'no join token: WEFT_JOIN_TOKEN and --control-plane are needed'})`);
  }
  // grpc-js keeps its own subchannel backoff (up to 120 s) under the ADS client's: capped here so a
  // sidecar finds a restarted weftd within seconds, not minutes after a long outage.
  const client = createAdsClient({ address: opts.xdsAddress, node, protocol: 'delta', credentials: security?.xdsCredentials(opts.xdsRootPem, identity), channelOptions: {
    ...(opts.xdsRootPem ? { 'grpc.ssl_target_name_override': 'weftd' } : {}), // weftd's certificate names itself 'weftd' (no SNI to an IP)
    'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 2000,
  } });

  // Responses that arrive while the data plane is still loading wait for it (the client handles one at a time).
  const apply = async (u: ResourceUpdate): Promise<string | undefined> => {
    const r = (await proxyStarted).update(u.typeUrl, u.resources);
    if (!r.ok) {
      log(`rejected ${u.typeUrl.split('.').pop()} version ${u.version}: ${r.error}`);
      return r.error;
    }
    return undefined;
  };
  // On the first push the data plane may still be loading: the dependent subscriptions go out at
  // once then, so weftd computes endpoints and routes meanwhile (their responses are applied after
  // this one). Should this push be rejected, what they bring is only kept by name until the next.
  client.subscribe(TYPE.cluster, '*', async (u) => {
    if (!proxy) client.subscribe(TYPE.endpoint, edsNames(u.resources), apply);
    const err = await apply(u);
    if (!err) client.subscribe(TYPE.endpoint, edsNames(u.resources), apply);
    return err;
  });
  // Route configs come over RDS without their virtual hosts, which come over VHDS (src/agent/vhds.ts).
  const vhds = new VhdsRoutes();
  const applyRoutes = async (u: ResourceUpdate): Promise<string | undefined> => {
    const routes = vhds.onRoutes(u.resources, u.removed);
    return routes.size > 0 ? apply({ ...u, resources: routes }) : undefined;
  };
  const applyVirtualHosts = async (u: ResourceUpdate): Promise<string | undefined> => {
    const r = vhds.onVirtualHosts(u.resources, u.removed);
    const err = r.routes.size > 0 ? await apply({ ...u, typeUrl: TYPE.route, resources: r.routes }) : undefined;
    if (!err) r.commit();
    return err;
  };
  let sdsSubscribed = false;
  const subscribeRoutes = (names: string[]): void => {
    vhds.subscribe(names);
    client.subscribe(TYPE.route, names, applyRoutes);
    client.subscribe(VIRTUAL_HOST_URL, names, applyVirtualHosts);
  };
  client.subscribe(TYPE.listener, '*', async (u) => {
    if (!proxy) subscribeRoutes(rdsNames(u.resources));
    const err = await apply(u);
    if (!err) subscribeRoutes(rdsNames(u.resources));
    // Gateway credentials (`kubernetes://NAME`) come over ADS; the workload cert stays agent-local.
    const secrets = !err && opts.kind === 'router' ? (await dataPlane)[1].adsSecretNames(u.resources) : [];
    if (secrets.length > 0 || sdsSubscribed) client.subscribe(TYPE.secret, secrets, apply);
    sdsSubscribed ||= secrets.length > 0;
    return err;
  });
  client.on('connected', () => log(`connected to ${opts.xdsAddress}`));
  client.on('disconnected', (e) => log(`lost ${opts.xdsAddress} (${e.error}); serving the last config, retrying in ${e.retryInMs} ms`));
  client.start();
  try {
    proxy = await proxyStarted;
  } catch (e) {
    client.close();
    certs?.stop();
    throw e;
  }
  const started = proxy;

  let shuttingDown: Promise<void> | undefined;
  return {
    proxy: started, client, node,
    shutdown(timeoutMs = 10_000) {
      shuttingDown ??= (async () => {
        await started.drain(timeoutMs);
        client.close();
        certs?.stop();
        await started.close();
      })();
      return shuttingDown;
    },
  };
}
