// Entry of `npm run bench:protocols [-- --quick] [--seconds N]`: HTTP/2 (h2c), gRPC and TLS handshakes
// through the Weft sidecar pair, plaintext and mTLS, against direct and raw node:tls, in one run.
// Prints a table of ratios and writes JSON to bench/results/protocols-<time>.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../../src/cli/processes.js';
import { cpuSeconds, machineInfo, readCpuSteal } from '../dataplane/proc.js';
import { defaultPinning, killAllNow, pinSelf, startListening, stopAll, stopProcess } from '../dataplane/processes.js';
import { startProtocolMesh, type MeshUpstream } from './mesh.js';
import { runPhase, type LoadSettings, type PhaseResult } from './measure.js';
import { killTools, runTool } from './loads.js';
import { renderReport, type ProtocolsRun, type RawTlsResult } from './report.js';
import { writeWorkloadCerts } from './tls-handshake.js';
import { startNginxGrpcPair, startUpstreams } from './upstreams.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');
const TLS_SCRIPT = fileURLToPath(new URL('./tls-handshake.js', import.meta.url));
const USAGE = 'usage: node dist/bench/protocols/index.js [--quick] [--seconds N] [--handshakes-only] [--from-json bench/results/protocols-FILE.json]';
/** The run's temp dir (configs, certificates), removed at the end and on an interrupt. */
let tempDir: string | undefined;
const log = (l: string): void => { process.stderr.write(`bench:protocols: ${l}\n`); };

/** Tools and their Debian packages; installed with apt-get when missing (apt-get update only if the first try fails). */
const TOOLS: Record<string, string> = { nginx: 'nginx', wrk: 'wrk', h2load: 'nghttp2-client' };

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function ensureTools(): void {
  const missing = Object.keys(TOOLS).filter((c) => !hasCommand(c));
  if (missing.length === 0) return;
  const pkgs = missing.map((c) => TOOLS[c]);
  const install = (): boolean => {
    log(`installing ${pkgs.join(', ')} (apt-get install -y)`);
    return spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  };
  if (!install()) {
    log('apt-get install failed; running apt-get update and retrying');
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (!install()) throw new Error(`could not install ${pkgs.join(', ')}; install them by hand (apt-get install -y ${pkgs.join(' ')})`);
  }
  const still = Object.keys(TOOLS).filter((c) => !hasCommand(c));
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
}

/** Raw node:tls handshakes/s: a server process and a client process, both on the proxies' core (where both sidecars run). */
async function rawTls(dir: string, core: number | undefined, concurrency: number, seconds: number, resume = false): Promise<RawTlsResult> {
  const port = await freePort();
  const server = await startListening('raw tls server', process.execPath, [TLS_SCRIPT, 'server', dir, String(port), ...(resume ? ['resume'] : [])], core, '127.0.0.1', port);
  try {
    const cpu0 = cpuSeconds([server.pid]);
    const out = await runTool(process.execPath, [TLS_SCRIPT, 'client', dir, String(port), String(concurrency), String(seconds), ...(resume ? ['resume'] : [])], core);
    const serverCpu = cpuSeconds([server.pid]) - cpu0;
    // The client reports its own CPU (process.cpuUsage) as it ends.
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { handshakes: number; errors: number; resumed?: number; seconds: number; cpuSeconds: number };
    return {
      handshakes: r.handshakes, errors: r.errors, resumed: r.resumed ?? 0, seconds: r.seconds, perSecond: r.handshakes / r.seconds,
      cpuUsPerHandshake: Math.round(((serverCpu + r.cpuSeconds) / Math.max(1, r.handshakes)) * 1e6),
    };
  } finally {
    await stopProcess(server);
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'handshakes-only': { type: 'boolean', default: false }, seconds: { type: 'string' }, 'from-json': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values['from-json']) {
    // Re-renders a saved run's table without measuring again.
    process.stdout.write(`${renderReport(JSON.parse(readFileSync(values['from-json'], 'utf8')) as ProtocolsRun)}\n`);
    return 0;
  }
  const seconds = values.seconds === undefined ? (values.quick ? 5 : 10) : Number(values.seconds);
  if (!(seconds >= 1)) {
    process.stderr.write(`--seconds must be a number >= 1, got ${values.seconds}\n${USAGE}\n`);
    return 2;
  }
  ensureTools();
  const pin = defaultPinning();
  pinSelf(pin.loadCore);
  const set: LoadSettings = { seconds, h2Clients: 16, h2Streams: 10, pacedQps: 1000, pacedConnections: 16, grpcConcurrency: 64, handshakeConnections: 16, loadCore: pin.loadCore, handshakesOnly: values['handshakes-only'] };
  const loadBefore = os.loadavg();
  const steal0 = readCpuSteal();
  const run: ProtocolsRun = {
    startedAt: new Date().toISOString(), quick: values.quick, settings: { ...set, pinning: pin }, machine: { ...machineInfo(), h2load: spawnSync('h2load', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? 'unknown' }, phases: [],
  };
  const dir = mkdtempSync(join(os.tmpdir(), 'weft-bench-protocols-'));
  tempDir = dir;
  try {
    await writeWorkloadCerts(dir);
    try {
      run.rawTls = await rawTls(dir, pin.proxyCore, set.handshakeConnections, seconds);
      log(`raw node:tls: ${Math.round(run.rawTls.perSecond)} handshakes/s, ${run.rawTls.cpuUsPerHandshake} µs CPU per handshake (both sides)`);
    } catch (e) {
      run.rawTls = { error: (e as Error).message };
      log(`raw node:tls failed: ${(e as Error).message}`);
    }
    try {
      // The same with each connect loop resuming its previous session (what the sidecars do between them).
      run.rawTlsResumed = await rawTls(dir, pin.proxyCore, set.handshakeConnections, seconds, true);
      log(`raw node:tls, resumed sessions: ${Math.round(run.rawTlsResumed.perSecond)} handshakes/s (${run.rawTlsResumed.resumed} of ${run.rawTlsResumed.handshakes} resumed), ${run.rawTlsResumed.cpuUsPerHandshake} µs CPU per handshake (both sides)`);
    } catch (e) {
      run.rawTlsResumed = { error: (e as Error).message };
      log(`raw node:tls with resumption failed: ${(e as Error).message}`);
    }
    const up = await startUpstreams(dir, pin.loadCore);
    try {
      const upstreams: MeshUpstream[] = [
        { key: 'h2c', service: 'bench-h2', port: 8081, portName: 'http2', appPort: up.h2cPort },
        { key: 'h2c-h1app', service: 'bench-h2-h1app', port: 8082, portName: 'http', appPort: up.h1Port },
        { key: 'grpc', service: 'bench-grpc', port: 9090, portName: 'grpc', appPort: up.grpcPort },
        { key: 'hs', service: 'bench-hs', port: 8080, portName: 'http', appPort: up.h1Port, maxRequestsPerConnection: 1 },
      ];
      for (const mtls of [false, true]) {
        log(`${mtls ? 'mTLS' : 'plaintext'}: starting weftd and 5 sidecars`);
        let phase: PhaseResult;
        let mesh;
        try {
          mesh = await startProtocolMesh(upstreams, pin.proxyCore, mtls, mtls ? '127.92' : '127.91');
        } catch (e) {
          log(`${mtls ? 'mTLS' : 'plaintext'}: the mesh did not start: ${(e as Error).message}`);
          run.phases.push({ mtls, probes: { mesh: { ok: false, detail: (e as Error).message } }, direct: {}, pair: {} });
          continue;
        }
        // The nginx grpc_pass pair runs beside the plaintext phase only (it has no mTLS of the mesh's kind).
        const nginx = mtls || set.handshakesOnly ? undefined : await startNginxGrpcPair(dir, up.grpcPort, pin.proxyCore).catch((e: Error) => { log(`nginx grpc pair did not start: ${e.message}`); return undefined; });
        try {
          phase = await runPhase(mesh, up, mtls, set, log, nginx && { grpcTarget: `127.0.0.1:${nginx.port}`, pids: [nginx.client.pid, nginx.server.pid] });
        } finally {
          await Promise.all([mesh.stop(), nginx?.stop()]);
        }
        run.phases.push(phase);
      }
    } finally {
      await up.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const steal1 = readCpuSteal();
  run.machine.loadAvgBeforeAfter = [loadBefore, os.loadavg()].map((l) => l.map((x) => Math.round(x * 100) / 100));
  run.machine.stealPercent = Math.round(((steal1.steal - steal0.steal) / Math.max(1, steal1.total - steal0.total)) * 1000) / 10;
  const report = renderReport(run);
  process.stdout.write(`\n## HTTP/2, gRPC and TLS handshakes\n\n${report}\n`);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `protocols-${run.startedAt.replace(/[:.]/g, '-')}${values.quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(run, null, 2) + '\n');
  log(`results written to ${file}`);
  return 0;
}

const onSignal = (): void => {
  killTools();
  killAllNow();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main().then(async (code) => {
  await stopAll();
  process.exit(code);
}, async (e: unknown) => {
  log((e as Error).stack ?? String(e));
  await stopAll();
  process.exit(1);
});
