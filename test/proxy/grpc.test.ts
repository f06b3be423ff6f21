// gRPC end to end through the sidecar: grpc-js client -> h2c -> proxy -> h2c -> grpc-js server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Proxy } from '../../src/proxy/index.js';
import { cla, edsCluster, map, mustUpdate, outboundListeners, routeTo, startProxy } from './helpers.js';

const ADDR = '127.0.10.5';
type Msg = { text: string };
const ser = (v: Msg): Buffer => Buffer.from(JSON.stringify(v));
const de = (b: Buffer): Msg => JSON.parse(b.toString()) as Msg;
const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Msg, Msg> => ({
  path: `/demo.Greeter/${name}`, requestStream, responseStream, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de,
});
const service = { sayHello: method('SayHello', false, false), fail: method('Fail', false, false), chat: method('Chat', true, true) };
const Client = grpc.makeGenericClientConstructor(service, 'Greeter');

void describe('proxy gRPC', () => {
  let proxy: Proxy;
  let server: grpc.Server;
  let client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;

  before(async () => {
    server = new grpc.Server();
    server.addService(service, {
      sayHello: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const md = new grpc.Metadata();
        md.set('x-trailer', 'bye');
        cb(null, { text: `hello ${call.request.text} via ${String(call.metadata.get(':authority')[0] ?? call.metadata.get('x-forwarded-proto')[0])}` }, md);
      },
      fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb({ code: grpc.status.NOT_FOUND, details: 'nothing here' }),
      chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
        call.on('data', (m: Msg) => call.write({ text: `echo ${m.text}` }));
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    proxy = await startProxy(ADDR);
    const C = 'outbound|7070||greeter.default.svc.cluster.local';
    mustUpdate(proxy, 'cluster', map([edsCluster(C, { http2_protocol_options: {} })]));
    mustUpdate(proxy, 'endpoint', map([cla(C, [['127.0.0.1', port]])], 'cluster_name'));
    mustUpdate(proxy, 'listener', outboundListeners(ADDR, [7070]));
    mustUpdate(proxy, 'route', map([{ name: '7070', virtual_hosts: [{ name: 'greeter', domains: ['greeter', 'greeter:7070'], routes: [routeTo(C)] }] }]));
    client = new Client(`${ADDR}:15001`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'greeter:7070' }) as typeof client;
  });

  after(async () => {
    client.close();
    await proxy.close();
    server.forceShutdown();
  });

  void it('makes unary calls with trailing metadata', async () => {
    const { res, trailers } = await new Promise<{ res: Msg; trailers: grpc.Metadata }>((resolve, reject) => {
      let trailers = new grpc.Metadata();
      const call = client.sayHello({ text: 'weft' }, (err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : setImmediate(() => resolve({ res, trailers })))) as grpc.ClientUnaryCall;
      call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
    });
    assert.match(res.text, /^hello weft/);
    assert.equal(trailers.get('x-trailer')[0], 'bye');
  });

  void it('carries gRPC error status in trailers', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) => client.fail({ text: '' }, (e: grpc.ServiceError) => resolve(e)));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'nothing here');
  });

  void it('streams both ways', async () => {
    const call = client.chat() as grpc.ClientDuplexStream<Msg, Msg>;
    const got: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: Msg) => got.push(m.text));
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (let i = 0; i < 50; i++) call.write({ text: String(i) });
    call.end();
    await done;
    assert.equal(got.length, 50);
    assert.equal(got[49], 'echo 49');
    assert.ok(proxy.stats()['http.outbound_0.0.0.0_7070.downstream_rq_http2_total'] >= 3);
  });
});
