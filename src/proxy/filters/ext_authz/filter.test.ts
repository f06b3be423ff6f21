// The ext_authz filter against a real HTTP authorizer, on hand-made request contexts (a fake cluster
// whose one endpoint is the authorizer), and the translation's CUSTOM output (RBAC shadow marker first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpFilterContext } from '../types.js';
import type { Headers } from '../../router/headers.js';
import { extAuthzFactory, parseExtAuthz } from './config.js';
import { rbacFactory } from '../rbac/config.js';
import { customAuthz } from '../../../translate/authz/index.js';
import type { AuthorizationPolicySpec, ExtensionProvider, Resource } from '../../../model/index.js';

let server: http.Server;
let port = 0;
let seen: http.IncomingMessage[] = [];
let delayMs = 0;

before(async () => {
  server = http.createServer((req, res) => {
    seen.push(req);
    const allow = req.headers['x-ext-authz'] === 'allow';
    setTimeout(() => {
      if (allow) res.writeHead(200, { 'x-result': 'allowed', 'x-secret': 's' }).end();
      else res.writeHead(401, { 'x-result': 'denied', 'x-secret': 's', 'www-authenticate': 'Bearer' }).end('go away');
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => { server.close(); });

interface Reply { status: number; body: string; flag?: string; headers?: Headers }

function ctx(path: string, headers: Record<string, string>, clusterPort = port): HttpFilterContext & { reply?: Reply } {
  const agent = new http.Agent();
  const endpoint = { host: '127.0.0.1', port: clusterPort, httpAgent: () => agent };
  const cluster = { type: 'STATIC', picker: { pick: () => endpoint } };
  const c = {
    view: { method: 'GET', authority: 'app:8000', path, pathOnly: path.split('?')[0], scheme: 'http', headers },
    route: null, requestHeaders: { ...headers, host: 'app:8000' } as Headers, requestId: 'r1', downstreamAddress: '127.0.0.1',
    responseFlags: '', responseCodeDetails: '', authn: null,
    env: { clusters: { slot: (name: string) => ({ name, current: name === 'outbound|8000||authz.local' ? cluster : null }) }, stats: { group: () => ({}) }, log: { warn() {}, info() {}, error() {} } },
    hcm: { statPrefix: 'test' },
    reply: undefined as Reply | undefined,
    perFilterConfig: () => undefined,
    sendLocalReply(status: number, body: string, flag?: string, h?: Headers) { c.reply = { status, body, flag, headers: h }; },
  };
  return c;
}

const CUSTOM: Resource<AuthorizationPolicySpec> = {
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ext', namespace: 'default' },
  spec: { action: 'CUSTOM', provider: { name: 'authz' }, rules: [{ to: [{ operation: { paths: ['/checked/*'] } }] }] },
};
const PROVIDERS: ExtensionProvider[] = [{ name: 'authz', envoyExtAuthzHttp: { service: 'authz.local', port: 8000, timeout: '300ms', pathPrefix: '/ext',
  includeRequestHeadersInCheck: ['x-ext-*'], headersToUpstreamOnAllow: ['x-result'], headersToDownstreamOnDeny: ['x-result'] } }];

/** The translated [RBAC shadow marker, ext_authz] pair, compiled, run in order on one context. */
async function runCustom(c: HttpFilterContext, providers = PROVIDERS): Promise<string> {
  const { http: [marker, ext] } = customAuthz([CUSTOM], providers);
  const rbac = rbacFactory.create(rbacFactory.parseConfig(marker.typed_config as Record<string, unknown>, 'rbac'));
  const authz = extAuthzFactory.create(extAuthzFactory.parseConfig(ext.typed_config as Record<string, unknown>, 'ext_authz'));
  assert.equal(await rbac.onRequestHeaders!(c), 'continue', 'the marker never denies');
  return await authz.onRequestHeaders!(c);
}

void test('only requests the CUSTOM rules match are checked; allowed: the configured headers go upstream, the check had the prefix and allowed headers', async () => {
  seen = [];
  const skip = ctx('/other', { 'x-ext-authz': 'nope' });
  assert.equal(await runCustom(skip), 'continue');
  assert.equal(seen.length, 0);
  const c = ctx('/checked/a?q=1', { 'x-ext-authz': 'allow', 'x-ext-extra': '1', cookie: 'c=1', authorization: 'Bearer t' });
  assert.equal(await runCustom(c), 'continue');
  assert.equal(seen.length, 1);
  assert.equal(seen[0].url, '/ext/checked/a?q=1');
  assert.equal(seen[0].headers['x-ext-extra'], '1');
  assert.equal(seen[0].headers.authorization, 'Bearer t', 'Authorization always goes to the authorizer');
  assert.equal(seen[0].headers.cookie, undefined);
  assert.equal(seen[0].headers.host, 'app:8000');
  assert.equal(c.requestHeaders['x-result'], 'allowed');
  assert.equal(c.requestHeaders['x-secret'], undefined);
});

void test('denied: the authorizer\'s status and body, only the allowed headers (plus WWW-Authenticate), flag UAEX', async () => {
  const c = ctx('/checked/b', { 'x-ext-authz': 'no' });
  assert.equal(await runCustom(c), 'stop');
  assert.equal(c.reply?.status, 401);
  assert.equal(c.reply?.body, 'go away');
  assert.equal(c.reply?.flag, 'UAEX');
  assert.deepEqual(Object.keys(c.reply?.headers ?? {}).sort(), ['www-authenticate', 'x-result']);
  assert.equal(c.responseCodeDetails, 'ext_authz_denied');
});

void test('an authorizer that fails: 403 (or status_on_error), or allowed with failOpen; a slow one times out', async () => {
  const down = ctx('/checked/c', { 'x-ext-authz': 'allow' }, 1); // nothing listens on port 1
  assert.equal(await runCustom(down), 'stop');
  assert.equal(down.reply?.status, 403);
  const open = ctx('/checked/c', { 'x-ext-authz': 'allow' }, 1);
  assert.equal(await runCustom(open, [{ ...PROVIDERS[0], envoyExtAuthzHttp: { ...PROVIDERS[0].envoyExtAuthzHttp!, failOpen: true } }]), 'continue');
  const custom = ctx('/checked/c', { 'x-ext-authz': 'allow' }, 1);
  assert.equal(await runCustom(custom, [{ ...PROVIDERS[0], envoyExtAuthzHttp: { ...PROVIDERS[0].envoyExtAuthzHttp!, statusOnError: '503' } }]), 'stop');
  assert.equal(custom.reply?.status, 503);
  delayMs = 1000;
  const slow = ctx('/checked/d', { 'x-ext-authz': 'allow' });
  const t0 = Date.now();
  assert.equal(await runCustom(slow), 'stop');
  assert.ok(Date.now() - t0 < 900, 'the 300ms timeout applied');
  delayMs = 0;
});

void test('config errors name the field; an unknown provider makes the CUSTOM policy deny (Istio)', () => {
  assert.throws(() => parseExtAuthz({ grpc_service: {} }, 'f'), /f\.grpc_service: the gRPC authorization service is not supported/);
  assert.throws(() => parseExtAuthz({ http_service: { server_uri: { uri: 'http://a' } } }, 'f'), /f\.http_service\.server_uri\.cluster: missing/);
  assert.throws(() => parseExtAuthz({ http_service: { server_uri: { uri: 'http://a', cluster: 'c' } }, status_on_error: { code: 99 } }, 'f'), /f\.status_on_error/);
  const r = customAuthz([CUSTOM], []);
  assert.deepEqual(r.http, []);
  assert.equal(r.unresolved.length, 1);
  assert.match(r.problems[0], /extension provider "authz" is not in the mesh config/);
});
