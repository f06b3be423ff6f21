import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { GrpcChannel, type GrpcDuplexStream, type GrpcStatusObject } from './grpc-stream.js';

const frame = (s: string) => {
  const b = Buffer.from(s);
  const h = Buffer.alloc(5);
  h.writeUInt32BE(b.length, 1);
  return Buffer.concat([h, b]);
};

/** An HTTP/2 server on loopback whose handler gets every call; closed after the test. */
async function server(handler: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<{ address: string; close(): Promise<void> }> {
  const srv = http2.createServer();
  srv.on('stream', handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { address: `127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

function collect(call: GrpcDuplexStream<string, string>): Promise<{ data: unknown[]; status: GrpcStatusObject; error?: Error }> {
  const data: unknown[] = [];
  let error: Error | undefined;
  call.on('data', (d) => data.push(d));
  call.on('error', (e: Error) => { error = e; });
  return new Promise((resolve) => call.on('status', (status: GrpcStatusObject) => resolve({ data, status, error })));
}

void test('messages split across chunks and packed into one chunk decode in order; requests arrive framed', async () => {
  const got: Buffer[] = [];
  const srv = await server((stream, headers) => {
    assert.equal(headers['content-type'], 'application/grpc');
    assert.equal(headers[':path'], '/pkg.Svc/Call');
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('data', (c: Buffer) => got.push(c));
    const all = Buffer.concat([frame('one'), frame(''), frame('three')]);
    // One byte at a time for the first message, the rest in one write.
    for (let i = 0; i < 8; i++) stream.write(all.subarray(i, i + 1));
    stream.write(all.subarray(8));
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    setImmediate(() => stream.end());
  });
  const ch = new GrpcChannel(srv.address);
  const call = ch.bidi('/pkg.Svc/Call', (s: string) => Buffer.from(s), (b) => b.toString());
  const done = collect(call);
  call.write('hello');
  const r = await done;
  assert.deepEqual(r.data, ['one', '', 'three']);
  assert.equal(r.status.code, 0);
  assert.equal(r.error, undefined);
  assert.deepEqual(Buffer.concat(got), frame('hello'));
  ch.close();
  await srv.close();
});

void test('a trailers-only error reply, a compressed message and a refused connection end the call with a status', async () => {
  const srv = await server((stream, headers) => {
    if (headers[':path'] === '/x/Unimplemented') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'no%20such%20method' }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const f = frame('zz');
    f[0] = 1;
    stream.write(f);
  });
  const ch = new GrpcChannel(srv.address);
  const unimpl = await collect(ch.bidi('/x/Unimplemented', (s: string) => Buffer.from(s), (b) => b.toString()));
  assert.deepEqual(unimpl.status, { code: 12, details: 'no such method' });
  assert.match(unimpl.error?.message ?? '', /^12 UNIMPLEMENTED: no such method/);
  const compressed = await collect(ch.bidi('/x/Compressed', (s: string) => Buffer.from(s), (b) => b.toString()));
  assert.equal(compressed.status.code, 13);
  assert.match(compressed.status.details, /compressed/);
  ch.close();
  await srv.close();
  const refused = await collect(new GrpcChannel(srv.address).bidi('/x/Any', (s: string) => Buffer.from(s), (b) => b.toString()));
  assert.equal(refused.status.code, 14);
});
