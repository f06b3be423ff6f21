// The reference for handshakes per second: raw node:tls mutual TLS 1.3 handshakes between two
// processes, with the same kind of certificate the sidecars use (ECDSA P-256 workload certificates
// with a SPIFFE URI SAN, from Weft's own CA). Script modes:
//   node tls-handshake.js server DIR PORT [resume]   accepts, completes the handshake, closes (with `resume`: after writing a byte, which sends the tickets)
//   node tls-handshake.js client DIR PORT C SECONDS [resume]  C concurrent connect loops; prints {"handshakes":N,"errors":E,"seconds":S,"resumed":R}
//     with `resume`, each loop offers the session of its previous connection (TLS 1.3 PSK resumption, as the sidecars do)
// The client verifies the chain and skips the host name check (as the sidecars do: they check the SPIFFE ID).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { CertificateAuthority } from '../../src/security/ca.js';
import { makeCsrDer } from '../../src/security/csr.js';
import { spiffeUri } from '../../src/security/spiffe.js';

/** Writes root.pem, and cert.pem/key.pem of a workload certificate, into `dir`. */
export async function writeWorkloadCerts(dir: string): Promise<void> {
  const ca = await CertificateAuthority.open({});
  const { csrPem, keyPem } = makeCsrDer(spiffeUri(ca.trustDomain, 'default', 'default'));
  const issued = await ca.signCsr(csrPem, { namespace: 'default', serviceAccount: 'default' });
  writeFileSync(join(dir, 'root.pem'), issued.rootPem);
  writeFileSync(join(dir, 'cert.pem'), issued.certChainPem);
  writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
}

function material(dir: string): { key: Buffer; cert: Buffer; ca: Buffer; minVersion: 'TLSv1.3' } {
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), ca: readFileSync(join(dir, 'root.pem')), minVersion: 'TLSv1.3' };
}

function serve(dir: string, port: number, resume: boolean): void {
  const server = tls.createServer({ ...material(dir), requestCert: true, rejectUnauthorized: true }, (sock) => {
    sock.on('error', () => {});
    // OpenSSL sends the TLS 1.3 session tickets with the server's first write: for resumption there must be one.
    if (resume) sock.end('x');
    else sock.end();
  });
  server.on('tlsClientError', () => {});
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

async function clientLoops(dir: string, port: number, concurrency: number, seconds: number, resume: boolean): Promise<void> {
  // One secure context for every connection, as a sidecar keeps one per certificate (tls.Server does the same).
  const opts: tls.ConnectionOptions = { secureContext: tls.createSecureContext(material(dir)), host: '127.0.0.1', port, checkServerIdentity: () => undefined };
  let handshakes = 0;
  let errors = 0;
  let resumed = 0;
  const cpu0 = process.cpuUsage(); // the loops' CPU only, not the process start
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  const once = (last: { session?: Buffer }): Promise<void> => new Promise((resolve) => {
    const s = tls.connect(resume && last.session ? { ...opts, session: last.session } : opts, () => {
      handshakes++;
      if (s.isSessionReused()) resumed++;
      // TLS 1.3 tickets arrive just after the handshake: wait for one before closing when resuming.
      if (!resume) {
        s.destroy();
        resolve();
      }
    });
    // Reading is what processes the tickets (they come with the server's byte).
    if (resume) s.resume();
    if (resume) s.once('session', (session: Buffer) => {
      last.session = session;
      s.destroy();
      resolve();
    });
    // The server may close before a ticket comes (then the next connection makes a full handshake).
    s.once('close', () => resolve());
    s.once('error', () => {
      errors++;
      s.destroy();
      resolve();
    });
  });
  const loop = async (): Promise<void> => {
    const last: { session?: Buffer } = {};
    while (performance.now() < stopAt) await once(last);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ handshakes, errors, resumed, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, dir, port, c, s, flag] = process.argv.slice(2);
  if (mode === 'server' && dir && Number(port) > 0) serve(dir, Number(port), c === 'resume');
  else if (mode === 'client' && dir && Number(port) > 0 && Number(c) > 0 && Number(s) > 0) {
    clientLoops(dir, Number(port), Number(c), Number(s), flag === 'resume').then(() => process.exit(0), (e: unknown) => {
      process.stderr.write(`tls-handshake client: ${(e as Error).message}\n`);
      process.exit(1);
    });
  } else {
    process.stderr.write('usage: node tls-handshake.js server DIR PORT [resume] | client DIR PORT CONCURRENCY SECONDS [resume]\n');
    process.exit(2);
  }
}
