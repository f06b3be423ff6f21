// TLS session resumption between sidecars: the client side (UpstreamTls) offers the session of its
// last verified connection to the same endpoint, the server side (DownstreamTls) accepts it (with a
// session id context: without one OpenSSL fails such a handshake fatally) and still checks the peer
// it restores; a changed certificate or a refused server means a full handshake again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type tls from 'node:tls';
import { CertificateAuthority } from '../../security/ca.js';
import { makeCsrDer } from '../../security/csr.js';
import { spiffeUri } from '../../security/spiffe.js';
import { silentLogger, type Logger } from '../env.js';
import { compileDownstreamTls, type DownstreamTls, peerOf } from './downstream.js';
import { SecretStore } from './secrets.js';
import { DOWNSTREAM_TLS, TLS_SOCKET, UPSTREAM_TLS } from './context.js';
import { compileUpstreamTransport, type UpstreamTls } from './upstream.js';
import { applyXfcc } from './xfcc.js';

const TD = 'cluster.local';

async function workload(ca: CertificateAuthority, sa: string): Promise<SecretStore> {
  const { csrPem, keyPem } = makeCsrDer(spiffeUri(TD, 'default', sa));
  const issued = await ca.signCsr(csrPem, { namespace: 'default', serviceAccount: sa });
  const store = new SecretStore();
  const err = store.update(new Map<string, object>([
    ['default', { tls_certificate: { certificate_chain: { inline_string: issued.certChainPem }, private_key: { inline_string: keyPem } } }],
    ['ROOTCA', { validation_context: { trusted_ca: { inline_string: issued.rootPem } } }],
  ]));
  assert.equal(err, undefined);
  return store;
}

const common = (sans: string[]): object => ({
  tls_certificate_sds_secret_configs: [{ name: 'default' }],
  combined_validation_context: {
    default_validation_context: { match_typed_subject_alt_names: sans.map((s) => ({ san_type: 'URI', matcher: { prefix: s } })) },
    validation_context_sds_secret_config: { name: 'ROOTCA' },
  },
});

function upstream(store: SecretStore, sans: string[], log: Logger = silentLogger): UpstreamTls {
  const sel = compileUpstreamTransport({ transport_socket: { name: TLS_SOCKET, typed_config: { '@type': UPSTREAM_TLS, common_tls_context: common(sans) } } }, store, log, 'cluster');
  const u = sel?.forEndpoint(undefined);
  assert.ok(u);
  return u;
}

function downstream(store: SecretStore, log: Logger): DownstreamTls {
  const d = compileDownstreamTls({ name: TLS_SOCKET, typed_config: { '@type': DOWNSTREAM_TLS, require_client_certificate: true, common_tls_context: common([`spiffe://${TD}/`]) } }, store, log, 'listener');
  assert.ok(d);
  return d;
}

interface Served { port: number; accepted: tls.TLSSocket[]; negotiated: string[]; warnings: string[]; close(): void }

async function serve(store: SecretStore): Promise<Served> {
  const warnings: string[] = [];
  const d = downstream(store, { info() {}, warn: (l: string) => warnings.push(l), error() {} });
  const accepted: tls.TLSSocket[] = [];
  const negotiated: string[] = [];
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    d.accept(sock, false, (s) => {
      accepted.push(s as tls.TLSSocket);
      negotiated.push(`${(s as tls.TLSSocket).getProtocol() ?? ''} ${(s as tls.TLSSocket).getCipher().name}`);
      s.on('data', () => s.end('ok'));
    }, () => sock.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, accepted, negotiated, warnings, close: () => server.close() };
}

/** One exchange over a new connection; resolves with the client socket's reuse flag, or the error. */
function exchange(u: UpstreamTls, port: number): Promise<{ reused: boolean; body: string } | Error> {
  return new Promise((resolve) => {
    const s = u.connect('127.0.0.1', port) as tls.TLSSocket;
    let body = '';
    s.on('error', (e) => resolve(e));
    s.on('secureConnect', () => s.write('hi'));
    s.on('data', (d: Buffer) => { body += d.toString(); });
    s.on('end', () => {
      resolve({ reused: s.isSessionReused(), body });
      s.destroy();
    });
  });
}

/** The client caches a session when its ticket arrives after the handshake: wait for it between connections. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in 3 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
const cached = (u: UpstreamTls): number => (u as unknown as { sessions: Map<string, unknown> }).sessions.size;

test('a verified server is resumed on the next connection; the server still sees and checks the client certificate', async () => {
  const ca = await CertificateAuthority.open({});
  const srv = await serve(await workload(ca, 'server'));
  try {
    const u = upstream(await workload(ca, 'client'), [`spiffe://${TD}/ns/default/sa/server`]);
    const first = await exchange(u, srv.port);
    assert.deepEqual(first, { reused: false, body: 'ok' });
    await until(() => cached(u) === 1);
    const second = await exchange(u, srv.port);
    assert.deepEqual(second, { reused: true, body: 'ok' });
    assert.equal(srv.accepted.length, 2);
    assert.equal(srv.accepted[1].isSessionReused(), true);
    // What was negotiated: TLS 1.3 with AES-128-GCM (the mesh's first choice, as Envoy's).
    assert.deepEqual(srv.negotiated, ['TLSv1.3 TLS_AES_128_GCM_SHA256', 'TLSv1.3 TLS_AES_128_GCM_SHA256']);
    // The resumed connection carries the same verified peer, so XFCC is the same.
    const p0 = peerOf(srv.accepted[0]);
    const p1 = peerOf(srv.accepted[1]);
    assert.equal(p1?.peerSpiffe, `spiffe://${TD}/ns/default/sa/client`);
    const h0: Record<string, string> = {};
    const h1: Record<string, string> = {};
    applyXfcc(h0, srv.accepted[0], 'APPEND_FORWARD');
    applyXfcc(h1, srv.accepted[1], 'APPEND_FORWARD');
    assert.equal(h1['x-forwarded-client-cert'], h0['x-forwarded-client-cert']);
    assert.match(h1['x-forwarded-client-cert'], new RegExp(`^By=spiffe://${TD}/ns/default/sa/server;Hash=${p0?.peerHash ?? 'x'};Subject="";URI=spiffe://${TD}/ns/default/sa/client$`));
    assert.deepEqual(srv.warnings, []);
  } finally {
    srv.close();
  }
});

test('XFCC Hash is the SHA-256 of the client certificate DER', async () => {
  const { createHash } = await import('node:crypto');
  const ca = await CertificateAuthority.open({});
  const srv = await serve(await workload(ca, 'server'));
  try {
    const u = upstream(await workload(ca, 'client'), [`spiffe://${TD}/`]);
    assert.deepEqual(await exchange(u, srv.port), { reused: false, body: 'ok' });
    const p = peerOf(srv.accepted[0]);
    assert.ok(p);
    assert.equal(p.peerHash, createHash('sha256').update(p.peerDer).digest('hex'));
  } finally {
    srv.close();
  }
});

test('a server identity the SAN matchers refuse is never cached, so it is never resumed', async () => {
  const ca = await CertificateAuthority.open({});
  const srv = await serve(await workload(ca, 'server'));
  try {
    const u = upstream(await workload(ca, 'client'), [`spiffe://${TD}/ns/default/sa/someone-else`]);
    for (let i = 0; i < 2; i++) {
      const r = await exchange(u, srv.port);
      assert.ok(r instanceof Error && /someone-else/.test(r.message), r instanceof Error ? r.message : JSON.stringify(r));
      assert.equal(cached(u), 0);
    }
  } finally {
    srv.close();
  }
});

test('a new client certificate (rotation) means a full handshake; a server that lost its tickets gets one too', async () => {
  const ca = await CertificateAuthority.open({});
  const serverStore = await workload(ca, 'server');
  const srv = await serve(serverStore);
  const srv2 = await serve(await workload(ca, 'server'));
  try {
    const clientStore = await workload(ca, 'client');
    const u = upstream(clientStore, [`spiffe://${TD}/ns/default/sa/server`]);
    assert.deepEqual(await exchange(u, srv.port), { reused: false, body: 'ok' });
    await until(() => cached(u) === 1);
    // Rotation: the client's secret changes, so does its SecureContext; the old session is dropped.
    const rotated = await workload(ca, 'client');
    clientStore.update(new Map([['default', { tls_certificate: { certificate_chain: { inline_string: rotated.get('default')?.certificate?.certChainPem }, private_key: { inline_string: rotated.get('default')?.certificate?.keyPem } } }]]));
    assert.deepEqual(await exchange(u, srv.port), { reused: false, body: 'ok' });
    await until(() => cached(u) === 1);
    assert.deepEqual(await exchange(u, srv.port), { reused: true, body: 'ok' });
    // The same session offered to another server process (e.g. a restart on the same address) is
    // not accepted there: a full handshake, no failure. Here: the cached entry for port A used on B.
    const sessions = (u as unknown as { sessions: Map<string, unknown> }).sessions;
    sessions.set(`127.0.0.1:${srv2.port}`, sessions.get(`127.0.0.1:${srv.port}`));
    assert.deepEqual(await exchange(u, srv2.port), { reused: false, body: 'ok' });
    assert.deepEqual(srv2.warnings, []);
  } finally {
    srv.close();
    srv2.close();
  }
});

test('a client certificate from another CA is refused on a resumption attempt as on a full handshake', async () => {
  const ca = await CertificateAuthority.open({});
  const other = await CertificateAuthority.open({});
  const srv = await serve(await workload(ca, 'server'));
  try {
    // A client of the other CA that trusts our root (to get past its own check of the server).
    const foreign = await workload(other, 'client');
    foreign.update(new Map([['ROOTCA', { validation_context: { trusted_ca: { inline_string: ca.rootPem } } }]]));
    const u = upstream(foreign, [`spiffe://${TD}/`]);
    for (let i = 0; i < 2; i++) {
      // TLS 1.3: the client may finish its side before the server refuses its certificate; no answer either way.
      const r = await exchange(u, srv.port);
      assert.ok(r instanceof Error || r.body === '', JSON.stringify(r));
      assert.equal(cached(u), 0);
    }
    assert.equal(srv.accepted.length, 0);
  } finally {
    srv.close();
  }
});
