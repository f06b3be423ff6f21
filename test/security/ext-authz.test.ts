// AuthorizationPolicy action CUSTOM with an external authorizer (a real separate process), configured
// as Istio's meshConfig.extensionProviders[].envoyExtAuthzHttp: only requests the policy's rules match
// are checked; allowed ones carry the authorizer's headers upstream, denied ones get its answer; CUSTOM
// runs before DENY; an authorizer that is down fails closed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestMesh, type RunningWorkload } from '../helpers/mesh.js';
import { pollUntil, send } from '../e2e/helpers.js';

const AUTHZ_APP = fileURLToPath(new URL('./apps/ext-authz-server.js', import.meta.url));
let mesh: TestMesh;
let client: RunningWorkload;
let authz: ChildProcess;
let authzPort = 0;
let clientAddr = '';

function startAuthorizer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [AUTHZ_APP], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`authorizer exited ${String(code)}`)));
  });
}

const checks = async (): Promise<{ checks: number; last: { method: string; url: string; headers: Record<string, string> } }> =>
  (await fetch(`http://127.0.0.1:${authzPort}/__count`)).json() as never;

const CONFIG = (port: number): string => `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 8000 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext-authz, namespace: default }
spec:
  hosts: [ext-authz.local]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 8000, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: default }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: sample-ext-authz-http }
  rules:
  - to: [{ operation: { paths: ["/headers", "/anything/*"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-blocked, namespace: default }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules:
  - when: [{ key: "request.headers[x-block]", values: ["yes"] }]
`;

before(async () => {
  const a = await startAuthorizer();
  authz = a.child;
  authzPort = a.port;
  mesh = await TestMesh.start({ mesh: { extensionProviders: [{ name: 'sample-ext-authz-http', envoyExtAuthzHttp: {
    service: 'ext-authz.local', port: 8000, timeout: '2s', pathPrefix: '/check',
    includeRequestHeadersInCheck: ['x-ext-authz'], headersToUpstreamOnAllow: ['x-ext-authz-check-result', 'x-ext-authz-check-received'],
    headersToDownstreamOnDeny: ['x-ext-authz-check-result'],
  } }] } });
  await mesh.apply(CONFIG(authzPort));
  [client] = await Promise.all([mesh.runClient('sleep'), mesh.runSample('httpbin', 'v1', 'httpbin/httpbin.js', 8000)]);
  clientAddr = (await client.workload()).address;
});
after(async () => {
  authz?.kill('SIGTERM');
  await mesh?.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => send({ host: clientAddr, port: 15001, path: `http://httpbin:8000${path}`, headers });

test('CUSTOM allows through the authorizer: its allowed headers reach the app; the check carried the configured headers and path prefix', async () => {
  await pollUntil('httpbin reachable', async () => (await get('/ip')).status === 200, 20_000);
  await pollUntil('ext_authz in place', async () => (await get('/headers', { 'x-ext-authz': 'deny' })).status === 403, 15_000);
  const r = await get('/headers?x=1', { 'x-ext-authz': 'allow', 'x-other': 'not-sent' });
  assert.equal(r.status, 200, r.body);
  const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
  assert.equal(h['X-Ext-Authz-Check-Result'], 'allowed');
  assert.match(h['X-Ext-Authz-Check-Received'], /^GET httpbin:8000\/check\/headers\?x=1$/);
  assert.equal(h['X-Not-Forwarded'], undefined, 'only headersToUpstreamOnAllow go upstream');
  const last = (await checks()).last;
  assert.equal(last.url, '/check/headers?x=1');
  assert.equal(last.headers['x-ext-authz'], 'allow');
  assert.equal(last.headers['x-other'], undefined, 'headers not in includeRequestHeadersInCheck are not sent');
});

test('CUSTOM denies with the authorizer\'s status, body and allowed headers; requests outside the rules are not checked', async () => {
  const r = await get('/anything/x', { 'x-ext-authz': 'nope' });
  assert.equal(r.status, 403);
  assert.match(r.body, /denied by ext_authz for not found header `x-ext-authz: allow`/);
  assert.equal(r.headers['x-ext-authz-check-result'], 'denied');
  assert.equal(r.headers['x-not-forwarded'], undefined, 'only headersToDownstreamOnDeny reach the client');
  const before = (await checks()).checks;
  assert.equal((await get('/ip')).status, 200);
  assert.equal((await get('/get', { 'x-ext-authz': 'nope' })).status, 200);
  assert.equal((await checks()).checks, before, 'paths outside the CUSTOM rules never reach the authorizer');
});

test('CUSTOM is evaluated before DENY: the authorizer answers first, then the DENY policy still applies', async () => {
  const denied = await get('/headers', { 'x-ext-authz': 'nope', 'x-block': 'yes' });
  assert.equal(denied.status, 403);
  assert.match(denied.body, /denied by ext_authz/, 'the authorizer decided first');
  const blocked = await get('/headers', { 'x-ext-authz': 'allow', 'x-block': 'yes' });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, 'RBAC: access denied');
});

test('an authorizer that is down fails closed (403); other paths keep working', async () => {
  authz.kill('SIGTERM');
  await new Promise((r) => authz.once('exit', r));
  const r = await get('/headers', { 'x-ext-authz': 'allow' });
  assert.equal(r.status, 403);
  assert.equal((await get('/ip')).status, 200);
});
