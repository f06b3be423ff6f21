// The sidecar's xDS channel presents its workload certificate (weftd requires one), and after a
// rotation it presents the new one on the next connection: real TLS, a real ADS server whose
// authenticate hook records the certificate of every stream, and a relay that drops connections.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { createXdsServer, type XdsServer } from '../../src/xds/server.js';
import { createAdsClient, type AdsClient } from '../../src/xds/client.js';
import { TYPE } from '../../src/xds/protos.js';
import { CertificateAuthority } from '../../src/security/ca.js';
import { makeCsr, type WorkloadCert } from '../../src/security/workload-cert.js';
import { XdsCertificateProvider, xdsCredentials } from '../../src/security/agent-certs.js';
import { waitFor } from '../helpers/mesh.js';

let server: XdsServer | undefined;
let client: AdsClient | undefined;
let relay: net.Server | undefined;
const sockets = new Set<net.Socket>();

after(async () => {
  client?.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => (relay ? relay.close(r) : r(undefined)));
  await server?.close();
});

async function workloadCert(ca: CertificateAuthority): Promise<WorkloadCert> {
  const { csrPem, keyPem } = await makeCsr('cluster.local', 'default', 'sleep');
  const c = await ca.signCsr(csrPem, { namespace: 'default', serviceAccount: 'sleep' });
  return { ...c, keyPem };
}

void test('the xDS channel presents the workload certificate, and the rotated one after a reconnect', async () => {
  const ca = await CertificateAuthority.open({});
  const serving = await ca.issueServerCert(['weftd'], ['127.0.0.1']);
  const seen: (string | undefined)[] = [];
  server = createXdsServer({ resources: () => new Map() }, {
    authenticate: (_node, peer) => {
      seen.push(peer.certificate?.serialNumber);
      return { principal: peer.certificate?.uriSans[0] };
    },
  });
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.rootPem), [{ cert_chain: Buffer.from(serving.certChainPem), private_key: Buffer.from(serving.keyPem) }], true);
  const { port } = await server.listen('127.0.0.1:0', creds);
  // A relay in front of the server, so the test can drop the connection as a network cut would.
  relay = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => { down.destroy(); up.destroy(); });
      s.on('close', () => { sockets.delete(s); down.destroy(); up.destroy(); });
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => relay!.listen(0, '127.0.0.1', r));
  const relayPort = (relay.address() as net.AddressInfo).port;

  const first = await workloadCert(ca);
  const identity = new XdsCertificateProvider(ca.rootPem);
  identity.update(first);
  client = createAdsClient({ address: `127.0.0.1:${relayPort}`, node: { id: 'sidecar~127.0.0.1~sleep.default~default.svc.cluster.local', metadata: {} },
    credentials: xdsCredentials(ca.rootPem, identity), backoff: { initialMs: 50, maxMs: 200 },
    channelOptions: { 'grpc.ssl_target_name_override': 'weftd', 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 300 } });
  client.subscribe(TYPE.listener, '*', () => undefined);
  client.start();
  await waitFor('first stream', () => Promise.resolve(seen.length >= 1), 10_000);
  assert.equal(seen[0]?.toLowerCase(), first.serial.toLowerCase(), 'the first certificate is presented');
  assert.equal(server.status()[0]?.principal, 'spiffe://cluster.local/ns/default/sa/sleep');

  const rotated = await workloadCert(ca);
  assert.notEqual(rotated.serial, first.serial);
  identity.update(rotated);
  for (const s of sockets) s.destroy(); // the connection drops; the channel reconnects
  await waitFor('a stream with the rotated certificate', () => Promise.resolve(seen.some((s) => s?.toLowerCase() === rotated.serial.toLowerCase())), 15_000);
  assert.equal(seen[seen.length - 1]?.toLowerCase(), rotated.serial.toLowerCase());
});
