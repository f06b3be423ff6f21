// Gateway TLS test helpers: a gateway proxy with chosen labels/namespace, TLS requests by SNI.
import { spawn } from 'node:child_process';
import tls from 'node:tls';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { WEFT, waitFor, type RunningWorkload, type TestMesh } from '../helpers/mesh.js';

/** `weft proxy --kind router` registered like `weft up` registers the ingress gateway, with these labels. */
export async function startGatewayProxy(mesh: TestMesh, name: string, namespace: string, labels: Record<string, string>): Promise<RunningWorkload> {
  const gw = mesh.weftd.workloads.register({ name, namespace, serviceAccount: `${name}-service-account`, labels, ports: {}, ready: true });
  const child = spawn(process.execPath, [WEFT, 'proxy', '--kind', 'router', '--xds', mesh.weftd.xdsAddress, '--address', gw.address,
    '--name', gw.name, '--namespace', gw.namespace, '--service-account', gw.serviceAccount, '--control-plane', mesh.weftd.apiUrl], {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, WEFT_JOIN_TOKEN: mesh.weftd.issueJoinToken(gw.namespace, gw.serviceAccount) },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  mesh.children.push(child);
  await waitFor('gateway proxy', async () => {
    const r = await fetch(`http://${gw.address}:15000/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    await r?.arrayBuffer();
    return r?.ok === true;
  }, 20_000, child).catch(async (e: Error) => {
    const info = await fetch(`http://${gw.address}:15000/server_info`).then((r) => r.text()).catch(() => '');
    throw new Error(`${e.message}\n--- gateway output:\n${out}\n--- server_info: ${info.slice(0, 2000)}`);
  });
  return { child, name: gw.name, namespace: gw.namespace, output: () => out, workload: () => Promise.resolve(gw) };
}

export interface TlsReply { status: number; body: string; headers: Record<string, string | string[] | undefined>; peerCert?: X509Certificate }

/** An HTTPS request to 127.0.0.1:port with this SNI/Host, verifying the server against `ca`. */
export function httpsGet(port: number, servername: string, path: string, opts: { ca: string; cert?: string; key?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path, servername, ca: opts.ca, cert: opts.cert, key: opts.key, agent: false,
      headers: { host: servername, ...(opts.headers ?? {}) }, timeout: opts.timeoutMs ?? 5000,
    }, (res) => {
      let body = '';
      const sock = res.socket as tls.TLSSocket;
      const peer = sock.getPeerX509Certificate?.();
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, peerCert: peer }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A raw TLS connection: the certificate the server presents for this SNI, and what it then says to `send`. */
export function tlsExchange(port: number, servername: string, ca: string, send = ''): Promise<{ cert: X509Certificate; data: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, timeout: 5000 }, () => {
      const cert = s.getPeerX509Certificate();
      if (!cert) { s.destroy(); reject(new Error('no peer certificate')); return; }
      let data = '';
      s.on('data', (c: Buffer) => { data += c.toString(); });
      s.on('end', () => resolve({ cert, data }));
      s.on('close', () => resolve({ cert, data }));
      if (send) s.write(send); // the peer ends the exchange (ending first would race its greeting)
    });
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

/** The certificate the server presents for this SNI (the connection is closed after the handshake). */
export function peerCertificate(port: number, servername: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, timeout: 5000 }, () => {
      const cert = s.getPeerX509Certificate();
      s.destroy();
      if (cert) resolve(cert);
      else reject(new Error('no peer certificate'));
    });
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

/** One HTTP/2 request over TLS (ALPN h2) with this SNI; resolves with the status and the negotiated protocol. */
export async function h2Get(port: number, servername: string, path: string, ca: string): Promise<{ status: number; alpn: string }> {
  const { connect } = await import('node:http2');
  return new Promise((resolve, reject) => {
    const session = connect(`https://${servername}:${port}`, { ca, servername, createConnection: () => tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2'] }) });
    session.on('error', reject);
    const req = session.request({ ':path': path, ':authority': servername });
    req.on('response', (h) => {
      const alpn = (session.socket as tls.TLSSocket).alpnProtocol || '';
      req.resume();
      req.on('end', () => { session.close(); resolve({ status: Number(h[':status']), alpn }); });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.close());
    req.end();
  });
}
