// Attack corpus against real sidecars (in-process Proxy objects, real sockets, Node TLS): each
// attempt must be refused and logged with its reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { CertificateAuthority } from '../../src/security/ca.js';
import { makeCsr } from '../../src/security/workload-cert.js';
import { secretsOf } from '../../src/security/agent-certs.js';
import type { WorkloadCert } from '../../src/security/workload-cert.js';
import { downstreamIstioMutual, upstreamIstioMutual } from '../../src/translate/security/tls.js';
import { Proxy } from '../../src/proxy/index.js';
import { type Obj, close, echoServer, hcm, map, mustUpdate, raw, request, routeTo, staticCluster, vhost, waitFor } from '../proxy/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-attacks-'));
let ca: CertificateAuthority;
let echo: Awaited<ReturnType<typeof echoServer>>;
let server: Proxy;
let client: Proxy;
let serverPort = 0;
const serverLog: string[] = [];
const clientLog: string[] = [];
const ADDR = `127.${40 + (process.pid % 150)}.77.1`;
const CLIENT_ADDR = `127.${40 + (process.pid % 150)}.77.2`;

async function issue(c: CertificateAuthority, sa: string): Promise<WorkloadCert> {
  const { csrPem, keyPem } = await makeCsr('cluster.local', 'default', sa);
  return { ...(await c.signCsr(csrPem, { namespace: 'default', serviceAccount: sa })), keyPem };
}
const logger = (sink: string[]) => ({ info: () => {}, warn: (m: string) => sink.push(m), error: (m: string) => sink.push(m) });

before(async () => {
  ca = await CertificateAuthority.open({ dataDir: dir });
  echo = await echoServer('app');
  server = new Proxy({ nodeId: 'sidecar~server', address: ADDR, adminPort: 0, log: logger(serverLog) });
  await server.start();
  mustUpdate(server, 'secret', secretsOf(await issue(ca, 'reviews')));
  mustUpdate(server, 'cluster', map([staticCluster('app', [['127.0.0.1', echo.port]])]));
  const inbound: Obj = {
    name: 'inbound', address: { socket_address: { address: ADDR, port_value: 0 } }, traffic_direction: 'INBOUND',
    filter_chains: [{ filter_chain_match: { transport_protocol: 'tls' }, transport_socket: downstreamIstioMutual('cluster.local'),
      filters: [{ name: 'hcm', typed_config: hcm('in', { inline: { name: 'in', virtual_hosts: [vhost('in', ['*'], [routeTo('app')])] } }, { forward_client_cert_details: 'APPEND_FORWARD' }) }] }],
  };
  mustUpdate(server, 'listener', map([inbound]));
  await server.settled();
  serverPort = server.listenerPort('inbound')!;
  client = new Proxy({ nodeId: 'sidecar~client', address: CLIENT_ADDR, adminPort: 0, log: logger(clientLog) });
  await client.start();
  mustUpdate(client, 'secret', secretsOf(await issue(ca, 'sleep')));
});
after(async () => {
  await client?.close();
  await server?.close();
  if (echo) await close(echo.server);
  rmSync(dir, { recursive: true, force: true });
});

/** Points the client sidecar at the server with mTLS expecting `sans`; returns the client listener port. */
async function clientTo(sans: string[]): Promise<number> {
  mustUpdate(client, 'cluster', map([staticCluster('srv', [[ADDR, serverPort]], { transport_socket: upstreamIstioMutual(sans.map((exact) => ({ exact })), 'outbound_.9080_._.reviews') })]));
  mustUpdate(client, 'listener', map([{ name: 'out', address: { socket_address: { address: CLIENT_ADDR, port_value: 0 } },
    filter_chains: [{ filters: [{ name: 'hcm', typed_config: hcm('out', { inline: { name: 'out', virtual_hosts: [vhost('out', ['*'], [routeTo('srv')])] } }) }] }] }]));
  await client.settled();
  return client.listenerPort('out')!;
}

/** A TLS client presenting `cert` straight to the server sidecar; resolves with what happened. */
function attack(cert: WorkloadCert | undefined): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: ADDR, port: serverPort, ca: ca.rootPem, rejectUnauthorized: false, cert: cert?.certChainPem, key: cert?.keyPem });
    let got = '';
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    s.on('data', (c: Buffer) => { got += c.toString(); });
    s.on('error', () => {});
    s.on('close', () => resolve(got.startsWith('HTTP/1.1 200') ? 'served' : 'refused'));
  });
}

test('mesh mTLS works when both sides are who they should be (XFCC names the client)', async () => {
  const port = await clientTo(['spiffe://cluster.local/ns/default/sa/reviews']);
  const r = await request({ host: CLIENT_ADDR, port, agent: false });
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.json<{ headers: Record<string, string> }>().headers['x-forwarded-client-cert']), /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep$/);
});

test('server identity check: the right CA but the wrong SPIFFE ID is refused by the client sidecar', async () => {
  const port = await clientTo(['spiffe://cluster.local/ns/default/sa/ratings']);
  const r = await request({ host: CLIENT_ADDR, port, agent: false });
  assert.equal(r.status, 503);
  await waitFor(() => clientLog.some((l) => /peer identity URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews is not one of spiffe:\/\/cluster\.local\/ns\/default\/sa\/ratings/.test(l)), 'logged reason');
});

test('a client certificate from another CA is refused and logged', async () => {
  const other = await CertificateAuthority.open();
  assert.equal(await attack(await issue(other, 'sleep')), 'refused');
  await waitFor(() => serverLog.some((l) => /inbound TLS from .* refused: client certificate URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep is not issued by a trusted CA/.test(l)), 'logged reason');
});

test('an expired client certificate from the right CA is refused and logged', async () => {
  const past = await CertificateAuthority.open({ caCertPem: ca.rootPem, caKeyPem: readFileSync(join(dir, 'ca', 'root-key.pem'), 'utf8'),
    clock: () => Date.now() - 3 * 3600_000, workloadCertTtlMs: 3600_000 });
  assert.equal(await attack(await issue(past, 'sleep')), 'refused');
  await waitFor(() => serverLog.some((l) => /refused: client certificate expired at/.test(l)), 'logged reason');
});

test('no client certificate, and plaintext, are refused (STRICT) and logged', async () => {
  assert.equal(await attack(undefined), 'refused');
  await waitFor(() => serverLog.some((l) => /inbound TLS from .* refused: .*(certificate required|did not return a certificate|no client certificate)/.test(l)), 'logged reason');
  assert.equal(await raw(ADDR, serverPort, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n', 1000), '');
  await waitFor(() => serverLog.some((l) => /plaintext connection from .* refused: mTLS required/.test(l)), 'logged reason');
  // The attacker's certificate never reached the app.
  assert.equal(echo.hits(), 1);
});
