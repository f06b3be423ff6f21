// VirtualService headers with Envoy's %FORMATTERS%, end to end: YAML -> translate() -> the sidecar,
// which compiles each value once per push and fills it per request; a real backend echoes what arrived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import { ConfigError } from '../../src/proxy/wire.js';
import { compileHeaderOps } from '../../src/proxy/router/headers.js';
import { echoServer, close } from '../proxy/helpers.js';
import { translatedSidecar } from './translated.js';

void test('request and response header formatters: downstream/upstream addresses, protocol, %REQ%, start time, hostname', { timeout: 20_000 }, async () => {
  const be = await echoServer('web', '127.0.98.1');
  const sc = await translatedSidecar(`
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web]
  http:
  - route:
    - destination: { host: web }
      headers:
        response: { set: { x-upstream-addr: "%UPSTREAM_REMOTE_ADDRESS%" } }
    headers:
      request:
        set:
          x-client: "%DOWNSTREAM_REMOTE_ADDRESS%"
          x-client-ip: "ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
          x-proto: "%PROTOCOL%"
          x-echo: "%REQ(x-user)%/%REQ(x-missing?x-user):3%"
          x-start: "%START_TIME(%s)%"
          x-pct: "100%%"
          x-empty: "%REQ(x-missing)%"
        add: { x-upstream-early: "%UPSTREAM_REMOTE_ADDRESS%" }
      response:
        set: { x-host: "%HOSTNAME%", x-start: "%START_TIME%", x-req: "%REQ(x-user)%" }
`, [
    { name: 'web', namespace: 'default', address: '127.0.98.1', labels: { app: 'web' }, serviceAccount: 'web', ports: { http: be.port } },
    { name: 'client', namespace: 'default', address: '127.0.98.9', labels: { app: 'client' }, serviceAccount: 'client', ports: {} },
  ], 'client');
  try {
    const before = Math.floor(Date.now() / 1000);
    const r = await new Promise<{ headers: http.IncomingHttpHeaders; body: string; localPort: number }>((resolve, reject) => {
      const req = http.request({ host: '127.0.98.9', port: 15001, localAddress: '127.0.98.50', path: 'http://web/x', headers: { host: 'web', 'x-user': 'jason' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ headers: res.headers, body, localPort: req.socket?.localPort ?? 0 }));
      });
      req.on('error', reject);
      req.end();
    });
    const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    assert.match(seen['x-client'], /^127\.0\.98\.50:\d+$/);
    assert.equal(seen['x-client-ip'], 'ip=127.0.98.50');
    assert.equal(seen['x-proto'], 'HTTP/1.1');
    assert.equal(seen['x-echo'], 'jason/jas');
    assert.ok(Number(seen['x-start']) >= before - 1 && Number(seen['x-start']) <= Date.now() / 1000 + 1, seen['x-start']);
    assert.equal(seen['x-pct'], '100%');
    assert.equal(seen['x-empty'], undefined, 'an empty formatted value is not added (keep_empty_value false)');
    assert.equal(seen['x-upstream-early'], undefined, 'request headers are set before an upstream host is chosen');
    assert.equal(r.headers['x-upstream-addr'], `127.0.98.1:${be.port}`);
    assert.equal(r.headers['x-host'], os.hostname());
    assert.match(String(r.headers['x-start']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(r.headers['x-req'], 'jason');
  } finally {
    await sc.close();
    await close(be.server);
  }
});

void test('formatters are compiled with the push: an unknown command or a stray % is a config error naming the field', () => {
  const level = (value: string) => ({ request_headers_to_add: [{ header: { key: 'x', value } }] });
  const ops = compileHeaderOps(level('a %PROTOCOL% b'), 'request_headers_to_add', 'request_headers_to_remove', 'Route r');
  assert.equal(typeof ops[0].format, 'function');
  assert.equal(compileHeaderOps(level('100%%'), 'request_headers_to_add', 'request_headers_to_remove', 'Route r')[0].format, null);
  assert.throws(() => compileHeaderOps(level('%NOPE%'), 'request_headers_to_add', 'request_headers_to_remove', 'Route r'),
    (e: unknown) => e instanceof ConfigError && /request_headers_to_add\[0\]\.header\.value/.test(e.message) && /%NOPE%/.test(e.message));
  assert.throws(() => compileHeaderOps(level('50% off'), 'request_headers_to_add', 'request_headers_to_remove', 'Route r'), /write %% for a literal %/);
});
