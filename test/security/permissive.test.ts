// PERMISSIVE on one port: TLS and plaintext told apart by the first byte, and a server-speaks-first
// protocol (the client sends nothing) still works after the quiet period, as plaintext.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { CertificateAuthority } from '../../src/security/ca.js';
import { makeCsr } from '../../src/security/workload-cert.js';
import { secretsOf } from '../../src/security/agent-certs.js';
import { downstreamIstioMutual } from '../../src/translate/security/tls.js';
import { Proxy } from '../../src/proxy/index.js';
import { TCP_PROXY, close, listen, map, mustUpdate, staticCluster } from '../proxy/helpers.js';

const ADDR = `127.${40 + (process.pid % 150)}.78.1`;
const greeter = net.createServer((s) => { s.on('error', () => {}); s.write('220 ready\r\n'); s.on('data', (d: Buffer) => s.write(`echo ${d.toString()}`)); });
let proxy: Proxy | undefined;
after(async () => { await proxy?.close(); await close(greeter); });

function firstLine(sock: net.Socket | tls.TLSSocket, send?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    sock.on('data', (c: Buffer) => { got += c.toString(); if (got.includes('\n')) { resolve(got); sock.destroy(); } });
    sock.on('error', reject);
    if (send) sock.write(send);
  });
}

void test('PERMISSIVE tcp: TLS client, plaintext client, and a silent server-first client all reach the upstream', async () => {
  const upstream = await listen(greeter);
  const ca = await CertificateAuthority.open();
  const { csrPem, keyPem } = await makeCsr('cluster.local', 'default', 'db');
  const cert = { ...(await ca.signCsr(csrPem, { namespace: 'default', serviceAccount: 'db' })), keyPem };
  proxy = new Proxy({ nodeId: 'sidecar~db', address: ADDR, adminPort: 0 });
  await proxy.start();
  mustUpdate(proxy, 'secret', secretsOf(cert));
  mustUpdate(proxy, 'cluster', map([staticCluster('db', [['127.0.0.1', upstream]])]));
  const tcp = { filters: [{ name: 'tcp', typed_config: { '@type': TCP_PROXY, stat_prefix: 'db', cluster: 'db' } }] };
  mustUpdate(proxy, 'listener', map([{ name: 'in', address: { socket_address: { address: ADDR, port_value: 0 } }, filter_chains: [
    { ...tcp, filter_chain_match: { transport_protocol: 'tls' }, transport_socket: downstreamIstioMutual('cluster.local') },
    { ...tcp, filter_chain_match: { transport_protocol: 'raw_buffer' } },
  ] }]));
  await proxy.settled();
  const port = proxy.listenerPort('in')!;
  // Client speaks first, plaintext: the greeting and the echo come back.
  assert.match(await firstLine(net.connect(port, ADDR), 'hi\r\n'), /^220 ready/);
  // mTLS client.
  const t = tls.connect({ host: ADDR, port, ca: cert.rootPem, cert: cert.certChainPem, key: keyPem, checkServerIdentity: () => undefined });
  assert.match(await firstLine(t, 'hi\r\n'), /^220 ready/);
  // Silent client: after the quiet period the connection is plaintext and the server speaks first.
  const t0 = Date.now();
  assert.match(await firstLine(net.connect(port, ADDR)), /^220 ready/);
  assert.ok(Date.now() - t0 >= 4500, 'waited for the quiet period');
});
