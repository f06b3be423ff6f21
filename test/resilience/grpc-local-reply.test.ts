// Local replies to gRPC requests through a sidecar configured from VirtualService YAML, seen by a real
// @grpc/grpc-js client: trailers-only, HTTP 200, grpc-status from Envoy's HTTP -> gRPC table and
// grpc-message the reply body. Fault abort 503 -> UNAVAILABLE; route timeout (504) -> UNAVAILABLE
// "upstream request timeout" (Envoy maps 504 to UNAVAILABLE; only a stream max duration gives
// DEADLINE_EXCEEDED); no route (404) -> UNIMPLEMENTED; fault grpcStatus kept as is.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { encodeGrpcMessage, httpToGrpcStatus } from '../../src/proxy/hcm/local-reply.js';
import { type TranslatedSidecar, translatedSidecar } from './translated.js';

const bytes = (b: Buffer): Buffer => b;
const def: grpc.ServiceDefinition = {
  SayHello: { path: '/helloworld.Greeter/SayHello', requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes },
};

const CONFIG = `
apiVersion: v1
kind: Service
metadata: { name: greeter }
spec: { selector: { app: greeter }, ports: [{ name: grpc, port: 7070 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: greeter }
spec:
  hosts: [greeter]
  http:
  - match: [{ headers: { x-case: { exact: abort } } }]
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    route: [{ destination: { host: greeter } }]
  - match: [{ headers: { x-case: { exact: grpc-abort } } }]
    fault: { abort: { grpcStatus: RESOURCE_EXHAUSTED, percentage: { value: 100 } } }
    route: [{ destination: { host: greeter } }]
  - match: [{ headers: { x-case: { exact: slow } } }]
    timeout: 0.2s
    retries: { attempts: 0 }
    route: [{ destination: { host: greeter } }]
  - match: [{ headers: { x-case: { exact: ok } } }]
    route: [{ destination: { host: greeter } }]
`;

void describe('gRPC local replies through the sidecar', () => {
  let server: grpc.Server;
  let sc: TranslatedSidecar;
  let client: grpc.Client;

  before(async () => {
    server = new grpc.Server();
    server.addService(def, {
      SayHello: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        if (call.metadata.get('x-case')[0] === 'slow') setTimeout(() => cb(null, Buffer.from('late')), 3000).unref();
        else cb(null, Buffer.from('hello'));
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.97.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    sc = await translatedSidecar(CONFIG, [
      { name: 'greeter', namespace: 'default', address: '127.0.97.1', labels: { app: 'greeter' }, serviceAccount: 'greeter', ports: { grpc: port } },
      { name: 'client', namespace: 'default', address: '127.0.97.9', labels: { app: 'client' }, serviceAccount: 'client', ports: {} },
    ], 'client');
    client = new grpc.Client('127.0.97.9:15001', grpc.credentials.createInsecure(), { 'grpc.default_authority': 'greeter:7070' });
  });

  after(async () => {
    client?.close();
    await sc?.close();
    server?.forceShutdown();
  });

  const call = (xcase: string): Promise<{ code: number; details: string; value?: string }> => {
    const md = new grpc.Metadata();
    md.set('x-case', xcase);
    return new Promise((resolve) => {
      client.makeUnaryRequest('/helloworld.Greeter/SayHello', bytes, bytes, Buffer.from('hi'), md, { deadline: Date.now() + 10_000 }, (err, res) =>
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', value: String(res) }));
    });
  };

  void it('passes a normal call', async () => {
    assert.deepEqual(await call('ok'), { code: 0, details: '', value: 'hello' });
  });

  void it('fault abort httpStatus 503 -> UNAVAILABLE with the fault body as message', async () => {
    const r = await call('abort');
    assert.equal(r.code, grpc.status.UNAVAILABLE);
    assert.equal(r.details, 'fault filter abort');
  });

  void it('fault abort grpcStatus keeps its own status', async () => {
    assert.equal((await call('grpc-abort')).code, grpc.status.RESOURCE_EXHAUSTED);
  });

  void it('VirtualService timeout: the 504 local reply reaches the client as UNAVAILABLE "upstream request timeout"', async () => {
    const r = await call('slow');
    assert.equal(r.code, grpc.status.UNAVAILABLE);
    assert.equal(r.details, 'upstream request timeout');
  });

  void it('no matching route (404) -> UNIMPLEMENTED, no message (empty body)', async () => {
    assert.deepEqual(await call('nothing'), { code: grpc.status.UNIMPLEMENTED, details: '' });
  });

  void it('on the wire: one HEADERS frame with END_STREAM, :status 200, content-type application/grpc', async () => {
    const session = http2.connect('http://127.0.97.9:15001');
    try {
      const got = await new Promise<{ h: http2.IncomingHttpHeaders; end: boolean }>((resolve, reject) => {
        const st = session.request({ ':method': 'POST', ':path': '/helloworld.Greeter/SayHello', ':authority': 'greeter:7070', 'content-type': 'application/grpc', te: 'trailers', 'x-case': 'abort' });
        st.on('response', (h, flags) => resolve({ h, end: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 }));
        st.on('error', reject);
        st.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      assert.equal(got.h[':status'], 200);
      assert.equal(got.end, true, 'trailers-only');
      assert.equal(got.h['content-type'], 'application/grpc');
      assert.equal(got.h['grpc-status'], '14');
      assert.equal(got.h['grpc-message'], 'fault filter abort');
    } finally {
      session.close();
    }
  });

  void it("Envoy's table and gRPC's message encoding", () => {
    assert.deepEqual([400, 401, 403, 404, 429, 500, 502, 503, 504].map(httpToGrpcStatus), [13, 16, 7, 12, 14, 2, 14, 14, 14]);
    assert.equal(encodeGrpcMessage('100% é\n'), '100%25 %C3%A9%0A');
  });
});
