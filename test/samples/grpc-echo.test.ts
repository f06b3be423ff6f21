// grpc-echo: server as a real process; the client direct and through an HTTP/2 forwarding proxy
// that stands in for the sidecar (records :authority, forwards the stream and trailers).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createEchoClient } from '../../samples/grpc-echo/echo-service.js';
import { samplePath, startSample, type SampleProcess } from './processes.js';

let server: SampleProcess;
void before(async () => {
  server = await startSample('grpc-echo/server.js', { SERVICE_VERSION: 'v2', HOSTNAME: 'echo-pod' });
});
void after(async () => {
  assert.equal(await server.stop(), 0);
});

async function forwardingProxy(upstream: string): Promise<{ port: number; authorities: string[]; close: () => Promise<void> }> {
  const authorities: string[] = [];
  const up = http2.connect(`http://${upstream}`);
  up.on('error', () => undefined);
  const proxy = http2.createServer();
  proxy.on('stream', (stream, headers) => {
    authorities.push(String(headers[':authority']));
    const fwd: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') || [':method', ':path', ':scheme', ':authority'].includes(k)) fwd[k] = v;
    const upReq = up.request(fwd);
    let trailers: http2.OutgoingHttpHeaders = {};
    upReq.on('response', (rh) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(rh)) if (!k.startsWith(':') || k === ':status') out[k] = v;
      stream.respond(out, { waitForTrailers: true });
      upReq.pipe(stream);
    });
    upReq.on('trailers', (t) => (trailers = { ...t }));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    upReq.on('error', () => stream.destroy());
    stream.on('error', () => upReq.destroy());
    stream.pipe(upReq);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    port: (proxy.address() as AddressInfo).port,
    authorities,
    close: () => new Promise<void>((r) => { up.close(); proxy.close(() => r()); }),
  };
}

void describe('grpc-echo', () => {
  void it('echoes the message with version, hostname and selected metadata', async () => {
    const c = createEchoClient(`127.0.0.1:${server.port}`, {});
    try {
      const r = await c.echo('hi', { 'end-user': 'jason' });
      assert.equal(r.message, 'hi');
      assert.equal(r.version, 'v2');
      assert.equal(r.hostname, 'echo-pod');
      assert.equal(r.metadata['end-user'], 'jason');
    } finally {
      c.close();
    }
  });

  void it('through HTTP_PROXY the channel goes to the proxy with :authority set to the target', async () => {
    const proxy = await forwardingProxy(`127.0.0.1:${server.port}`);
    try {
      const env = { HTTP_PROXY: `http://127.0.0.1:${proxy.port}` };
      const c = createEchoClient('echo:9090', env);
      assert.equal(c.channelTarget, `127.0.0.1:${proxy.port}`);
      try {
        const r = await c.echo('via proxy');
        assert.equal(r.message, 'via proxy');
        assert.deepEqual(proxy.authorities, ['echo:9090']);
      } finally {
        c.close();
      }
      // The client program, run as a process, does the same.
      const child = spawn(process.execPath, [samplePath('grpc-echo/client.js'), '--count', '2', '--message', 'x', 'echo:9090'], {
        env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0, out);
      assert.equal(out.trim().split('\n').length, 2);
      assert.equal(proxy.authorities.length, 3);
    } finally {
      await proxy.close();
    }
  });
});
