// gRPC and HTTP/2 across the mesh with real processes: a grpc-js client goes through its sidecar
// (HTTP_PROXY, h2c to ADDRESS:15001) to an h2-only grpc-js server run by `weft run`, over auto mTLS
// between the sidecars, then with STRICT mTLS. The server sidecar must speak HTTP/2 to the app (a gRPC
// server answers nothing else), and the client sidecar must negotiate h2 with the server sidecar by ALPN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { TestMesh, SAMPLES, type RunningWorkload } from '../helpers/mesh.js';
import { createEchoClient } from '../../samples/grpc-echo/echo-service.js';
import { pollUntil } from './helpers.js';

let mesh: TestMesh | undefined;
let client: RunningWorkload;

before(async () => {
  mesh = await TestMesh.start();
  await mesh.apply(`
apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  selector: { app: echo }
  ports: [{ name: grpc, port: 9090 }]
---
apiVersion: v1
kind: Service
metadata: { name: h2app }
spec:
  selector: { app: h2app }
  ports: [{ name: http2, port: 8080 }]
`);
  const h2app = `
    const http2 = require('node:http2');
    const s = http2.createServer((req, res) => res.end('h2 app saw HTTP/' + req.httpVersion));
    s.listen(Number(process.env.PORT), '127.0.0.1');`;
  [client] = await Promise.all([
    mesh.runClient('grpc-client'),
    mesh.run(['--service', 'echo', '--port', '9090:grpc', '--version', 'v1', '--name', 'echo-v1'], [process.execPath, `${SAMPLES}/grpc-echo/server.js`], { SERVICE_VERSION: 'v1', HOSTNAME: 'echo-v1' }),
    mesh.run(['--service', 'h2app', '--port', '8080:http2', '--name', 'h2app-1'], [process.execPath, '-e', h2app]),
  ]);
});

after(async () => { await mesh?.stop(); });

async function echoThroughSidecar(message: string): Promise<{ message: string; hostname: string; metadata: Record<string, string> }> {
  const c = createEchoClient('echo:9090', { HTTP_PROXY: `http://${(await client.workload()).address}:15001` });
  try {
    return await c.echo(message);
  } finally {
    c.close();
  }
}

/** One h2c request to the client sidecar's outbound port for `authority`. */
async function h2cThroughSidecar(authority: string): Promise<{ status: number; body: string }> {
  const session = http2.connect(`http://${(await client.workload()).address}:15001`);
  session.on('error', () => undefined);
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/', ':authority': authority });
      let body = '';
      let status = 0;
      req.on('response', (h) => { status = Number(h[':status']); });
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end();
    });
  } finally {
    session.close();
  }
}

test('gRPC unary calls cross the mesh over auto mTLS to an h2-only server', async () => {
  await pollUntil('a gRPC call through the sidecars', async () => (await echoThroughSidecar('warm-up')).message === 'warm-up', 20_000);
  for (let i = 0; i < 20; i++) {
    const reply = await echoThroughSidecar(`hello ${i}`);
    assert.equal(reply.message, `hello ${i}`);
    assert.equal(reply.hostname, 'echo-v1');
  }
  // The hop between the sidecars was mTLS: the server sidecar tells the app who called.
  const reply = await echoThroughSidecar('who');
  assert.match(reply.metadata['x-forwarded-client-cert'] ?? '', /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo;Hash=[0-9a-f]{64};.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default$/);
});

test('an HTTP/2 (h2c) request reaches an h2-only app as HTTP/2', async () => {
  await pollUntil('h2 app answering', async () => (await h2cThroughSidecar('h2app:8080').catch(() => ({ status: 0, body: '' }))).status === 200, 20_000);
  const r = await h2cThroughSidecar('h2app:8080');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'h2 app saw HTTP/2.0');
});

test('with STRICT mTLS mesh-wide, gRPC still crosses the mesh', async () => {
  await mesh!.apply(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`);
  // Once STRICT has reached the server sidecar, a plaintext h2c connection straight to it is refused...
  const server = mesh!.weftd.workloads.list().find((w) => w.name === 'echo-v1')!;
  await pollUntil('STRICT at the server sidecar', async () => {
    const s = http2.connect(`http://${server.address}:9090`);
    s.on('error', () => undefined);
    const refused = await new Promise<boolean>((resolve) => {
      const req = s.request({ ':path': '/echo.Echo/Echo', 'content-type': 'application/grpc' });
      req.on('response', () => resolve(false));
      req.on('error', () => resolve(true));
      req.on('close', () => resolve(true));
      req.end();
    });
    s.destroy();
    return refused;
  }, 20_000);
  // ...and the mesh path (mTLS between the sidecars) keeps working.
  for (let i = 0; i < 5; i++) assert.equal((await echoThroughSidecar(`strict ${i}`)).message, `strict ${i}`);
});
