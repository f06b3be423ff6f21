// weftd: the control plane process. ingestion (API + store) -> snapshot -> translation -> xDS.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyze, validateResource } from '../config/index.js';
import { startApiServer } from '../api/server.js';
import { FileStore } from '../store/file.js';
import { MemoryStore } from '../store/memory.js';
import type { ConfigStore } from '../store/types.js';
import { createSnapshot, SnapshotInputCache, type ConfigSnapshot, type MeshConfig } from '../registry/snapshot.js';
import { inheritClusterMemos } from '../registry/registry.js';
import { checkConsistency, translate } from '../translate/index.js';
import { createXdsServer } from '../xds/server.js';
import type { XdsLogger } from '../xds/types.js';
import { WorkloadRegistry } from './workloads.js';
import { SnapshotSource } from './xds-source.js';
import { ConfigView } from './config-view.js';
import { registerWeftRoutes } from './routes.js';
import { setupSecurity, type SecurityOptions } from './ca-routes.js';
import { createXdsAuthenticator } from './xds-auth.js';
import { trustDomainBundle } from '../model/mesh.js';
import type { Workload } from '../model/index.js';

export interface WeftdOptions {
  /** Data dir for the file store and the workload registry; omitted = in memory only. */
  dataDir?: string;
  host?: string;
  apiPort?: number;
  xdsPort?: number;
  /** Workload addresses are allocated in `<addressBase>.x.y`, e.g. '127.20'. */
  addressBase?: string;
  mesh?: Partial<MeshConfig>;
  /** How long a workload whose sidecar disconnected stays registered. */
  workloadGraceMs?: number;
  debounceMs?: number;
  log?: (line: string) => void;
  /** Security (src/weftd/ca-routes.ts): fixed admin token (tests), user CA files, workload cert TTL. */
  adminToken?: string;
  ca?: SecurityOptions['ca'];
  /** Serve xDS in plaintext (loopback only); default: TLS with a certificate from the CA. */
  insecureXds?: boolean;
}

export interface Weftd {
  apiUrl: string;
  xdsAddress: string;
  store: ConfigStore;
  workloads: WorkloadRegistry;
  /** The config API's admin credential (also in `<dataDir>/admin-token`). */
  adminToken: string;
  /** A single-use join token for a sidecar of namespace/serviceAccount (what POST .../jointokens gives). */
  issueJoinToken(namespace: string, serviceAccount: string): string;
  /** Snapshot version currently served. */
  version(): string;
  close(): Promise<void>;
}

export async function startWeftd(opts: WeftdOptions = {}): Promise<Weftd> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`weftd: ${l}\n`));
  const host = opts.host ?? '127.0.0.1';
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(opts.dataDir, 0o700); // the store holds gateway TLS private keys (Secrets): owner only
  }
  const store: ConfigStore = opts.dataDir ? await FileStore.open(join(opts.dataDir, 'config')) : new MemoryStore();
  const workloads = new WorkloadRegistry({
    file: opts.dataDir ? join(opts.dataDir, 'workloads.json') : undefined,
    addressBase: opts.addressBase, graceMs: opts.workloadGraceMs,
    // One journal write + fdatasync per 2 ms of changes (a fleet starting at once), not one per change;
    // the workload routes acknowledge a change only after durable().
    batchWindowMs: 2,
    onRestored: (w) => log(`workload ${w.namespace}/${w.name} (${w.address}) registered again: its sidecar reconnected after it was swept`),
  });

  let seq = 0;
  const inputs = new SnapshotInputCache(); // unchanged resources keep their frozen objects across rebuilds
  const config = new ConfigView(store); // the store's resources kept from watch events, not listed per change
  // Every change of the workload registry emits 'change' (before rebuild hears it): while none
  // came, the live workloads are the last build's frozen ones, not 3000 objects keyed again.
  let workloadsGen = 0;
  workloads.on('change', () => { workloadsGen++; });
  let live: { gen: number; list: Workload[] } | undefined;
  let last: ConfigSnapshot | undefined;
  const build = async () => {
    const resources = inputs.resourcesOf(await config.list());
    if (live?.gen !== workloadsGen) live = { gen: workloadsGen, list: inputs.workloadsOf(workloads.list().filter((w) => w.ready !== false)) };
    return (last = createSnapshot(`${store.revision()}.${++seq}`, resources, live.list, opts.mesh, last)); // unchanged kinds keep their sorted lists
  };
  const lookup = (ns: string, name: string) => workloads.get(ns, name);
  const plaintextXds = opts.insecureXds ?? false;
  const source = new SnapshotSource(await build(), lookup, log, plaintextXds);

  const xlog: XdsLogger = { info: (m) => log(`xds: ${m}`), warn: (m) => log(`xds: ${m}`), error: (m) => log(`xds: ${m}`) };
  // Every stream's claimed node must be its certificate's identity (src/weftd/xds-auth.ts).
  const authenticate = createXdsAuthenticator({ plaintext: plaintextXds, trustDomains: () => trustDomainBundle(source.current().mesh), lookup, log });
  const xds = createXdsServer(source, { debounceMs: opts.debounceMs ?? 20, logger: xlog, authenticate });
  xds.on('connect', (e) => { const p = source.proxyOf(e.node); workloads.connected(p.namespace, p.name, p.address); });
  xds.on('disconnect', (e) => { const p = source.proxyOf(e.node); workloads.disconnected(p.namespace, p.name); });
  xds.on('nack', (e) => log(`proxy ${e.nodeId} rejected ${e.typeUrl.split('.').pop()} version ${e.version}: ${e.message}`));

  // Rebuild on every config or workload change; rebuilds are serialised and coalesced.
  let rebuilding: Promise<void> | undefined;
  let again = false;
  const rebuild = (): void => {
    if (rebuilding) { again = true; return; }
    rebuilding = (async () => {
      do {
        again = false;
        const snap = await build();
        inheritClusterMemos(source.current(), snap); // a routing-only change reuses every cluster and endpoint
        source.setSnapshot(snap);
        xds.notify();
      } while (again);
    })().catch((e: unknown) => log(`snapshot rebuild failed, keeping the last one: ${(e as Error).stack ?? String(e)}`))
      .finally(() => { rebuilding = undefined; });
  };
  const unwatch = store.watch(() => rebuild());
  workloads.on('change', rebuild);

  const security = await setupSecurity({ dataDir: opts.dataDir, adminToken: opts.adminToken, log,
    ca: { trustDomain: opts.mesh?.trustDomain, ...opts.ca } });
  const xdsBound = await xds.listen(`${host}:${opts.xdsPort ?? 15010}`, await security.xdsCredentials(host, opts.insecureXds ?? false));
  const xdsAddress = `${host}:${xdsBound.port}`;
  const api = await startApiServer({
    store, host, port: opts.apiPort ?? 15014, authorize: (req) => security.authorize(req),
    validate: (obj: unknown) => validateResource(obj),
    analyze: (all) => analyze(all),
    ready: () => true,
  });
  security.register(api);
  registerWeftRoutes(api, { workloads, xds, source, xdsAddress, apiUrl: api.url, translate, checkConsistency });
  log(`config API  ${api.url}   (weft apply/get/delete; WEFT_CONTROL_PLANE=${api.url})`);
  log(`xDS (ADS)   grpc://${xdsAddress}   (Envoy v3, SotW, ${opts.insecureXds ? 'PLAINTEXT' : 'TLS, client certificates from the CA required, root in GET /apis/weft.dev/v1/trustbundle'})`);
  log(`data        ${opts.dataDir ?? '(in memory)'}`);

  return {
    apiUrl: api.url,
    xdsAddress,
    store,
    workloads,
    adminToken: security.adminToken,
    issueJoinToken: (ns, sa) => security.tokens.issue(ns, sa).token,
    version: () => source.current().version,
    async close() {
      unwatch();
      config.close();
      workloads.close();
      await api.close();
      await xds.close();
      await store.close();
    },
  };
}
