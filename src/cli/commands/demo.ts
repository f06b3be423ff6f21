// `weft demo bookinfo`: the whole Bookinfo mesh on this machine with one command.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatDiagnostic, hasErrors, loadPaths } from '../../config/index.js';
import { ApiClient } from '../../api/client.js';
import { adminToken, controlPlaneUrl } from '../control-plane.js';
import { CliError, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';
import { httpOk, spawnWeft, stopChild, waitFor } from '../processes.js';
import { startMesh, type MeshUp } from './up.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const BOOKINFO_SRC = join(ROOT, 'samples', 'bookinfo');
const BOOKINFO_BIN = join(ROOT, 'dist', 'samples', 'bookinfo');

/** The six Bookinfo workloads, as `weft run` arguments. */
export const BOOKINFO_WORKLOADS: { service: string; version: string; script: string; args?: string[]; sa: string }[] = [
  { service: 'details', version: 'v1', script: 'details.js', sa: 'bookinfo-details' },
  { service: 'ratings', version: 'v1', script: 'ratings.js', sa: 'bookinfo-ratings' },
  { service: 'reviews', version: 'v1', script: 'reviews.js', args: ['--version', 'v1'], sa: 'bookinfo-reviews' },
  { service: 'reviews', version: 'v2', script: 'reviews.js', args: ['--version', 'v2'], sa: 'bookinfo-reviews' },
  { service: 'reviews', version: 'v3', script: 'reviews.js', args: ['--version', 'v3'], sa: 'bookinfo-reviews' },
  { service: 'productpage', version: 'v1', script: 'productpage.js', sa: 'bookinfo-productpage' },
];

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    'control-plane': { type: 'string' },
    'address-base': { type: 'string' },
    'ingress-port-map': { type: 'string' },
    'api-port': { type: 'string' },
    'xds-port': { type: 'string' },
    'exit-when-ready': { type: 'boolean' },
  } });
  if (positionals[0] !== 'bookinfo') throw new UsageError('the demo is called bookinfo: weft demo bookinfo');
  const say = (m: string) => io.err.write(`[demo] ${m}\n`);
  let api = controlPlaneUrl(values['control-plane'], io.env);
  let mesh: MeshUp | undefined;
  let dataDir: string | undefined;
  const children: ChildProcess[] = [];
  let gatewayPort = 8080;

  const cleanup = async () => {
    await Promise.all(children.map((c) => stopChild(c, 8000, 'SIGTERM')));
    await mesh?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    if (await httpOk(`${api}/healthz`).catch(() => false)) {
      say(`using the control plane already running at ${api}`);
    } else {
      // The demo's own data dir, fresh each run; other terminals find its admin token through
      // WEFT_DATA_DIR (printed below), as they find ~/.weft's for `weft up`.
      dataDir = io.env.WEFT_DEMO_DATA_DIR ?? join(io.env.HOME ?? '.', '.weft-demo');
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
      const { parsePortMap } = await import('./up.js');
      const portMap = parsePortMap(values['ingress-port-map']);
      if (portMap[80]) gatewayPort = portMap[80];
      mesh = await startMesh({
        dataDir, apiPort: values['api-port'] ? Number(values['api-port']) : 15014, xdsPort: values['xds-port'] ? Number(values['xds-port']) : 15010,
        addressBase: values['address-base'], portMap, io,
      });
      api = mesh.weftd.apiUrl;
    }
    // With its own weftd the demo holds the admin credential; its workloads get it through WEFT_TOKEN.
    const token = mesh?.weftd.adminToken ?? adminToken(io.env);
    const env = { ...io.env, WEFT_CONTROL_PLANE: api, ...(token ? { WEFT_TOKEN: token } : {}) };
    const client = new ApiClient(api, { token });
    const files = ['platform/services.yaml', 'networking/bookinfo-gateway.yaml', 'networking/destination-rule-all.yaml'].map((f) => join(BOOKINFO_SRC, f));
    const loaded = await loadPaths(files);
    if (hasErrors(loaded.diagnostics)) throw new CliError(loaded.diagnostics.map(formatDiagnostic).join('\n'));
    await client.apply(loaded.documents.map((d) => d.resource), {});
    say('applied the Bookinfo services, gateway and destination rules');

    for (const w of BOOKINFO_WORKLOADS) {
      const child = spawnWeft(['run', '--service', w.service, '--port', '9080:http', '--version', w.version,
        '--service-account', w.sa, '--control-plane', api, '--quiet', '--',
        process.execPath, join(BOOKINFO_BIN, w.script), ...(w.args ?? [])], { env, stdio: ['ignore', 'inherit', 'inherit'] });
      children.push(child);
    }
    const page = `http://127.0.0.1:${gatewayPort}/productpage`;
    await waitFor('Bookinfo', async () => {
      const res = await fetch(page, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      return res.ok && body.includes('Book Details') && !body.includes('Error fetching product details');
    }, 120_000);
    io.out.write(`
Bookinfo is up.

  Open ${page}
  Refresh it: reviews v1 (no stars), v2 (black stars) and v3 (red stars) take turns.

Try (in another terminal, from this directory):
  export WEFT_DATA_DIR=${dataDir ?? io.env.WEFT_DATA_DIR ?? '~/.weft'} WEFT_CONTROL_PLANE=${api}
  npx weft apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml          # only v1, no stars
  npx weft apply -f samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml # log in as jason: black stars
  npx weft apply -f samples/bookinfo/networking/virtual-service-reviews-90-10.yaml   # canary 90/10
  npx weft get vs -A ; npx weft proxy-status

Ctrl-C stops every process this demo started.
`);
    if (values['exit-when-ready']) return 0;
    await new Promise<void>((resolve) => {
      const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      for (const c of children) c.once('exit', (code) => { if (code) say(`a workload exited with code ${code}`); });
    });
    say('stopping');
    return 0;
  } finally {
    await cleanup();
  }
}
