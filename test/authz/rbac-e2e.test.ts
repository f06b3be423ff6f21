// AuthorizationPolicy through a real sidecar configured by translate(): the seed, DENY/ALLOW
// interplay, source addresses, headers, mesh-wide policies; what the client, the access log, the
// stats and the proxy log each learn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastEntry, startWorkload, type TestWorkload } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SEED = readFileSync(join(ROOT, 'test', 'fixtures', 'seeds', '001-07-authorizationpolicy.yaml'), 'utf8');

interface R { status: number; body: string }

/** A request from a chosen local address (the caller's "pod IP"). */
function send(w: TestWorkload, o: { path?: string; method?: string; from?: string; headers?: Record<string, string> } = {}): Promise<R> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: w.address, port: w.port, path: o.path ?? '/', method: o.method ?? 'GET', localAddress: o.from, agent: false, headers: { host: 'svc:9080', ...o.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One h2c (prior knowledge) GET from a chosen local address; the response status. */
async function h2Status(w: TestWorkload, from: string): Promise<number> {
  const session = http2.connect(`http://${w.address}:${w.port}`, { createConnection: () => net.connect({ host: w.address, port: w.port, localAddress: from }) });
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/h2', ':authority': 'svc:9080' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
  } finally {
    session.close();
  }
}

async function entry(w: TestWorkload, path: string) {
  for (let i = 0; i < 200; i++) {
    const e = lastEntry(w, path);
    if (e) return e;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`no access log entry for ${path}`);
}

const ap = (name: string, spec: string, ns = 'default', extra = '') => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ${name}, namespace: ${ns}${extra} }\nspec: ${spec}\n`;

// Seed 001-07 over real mTLS between sidecars: test/authz/mesh.test.ts.
void test('seed 001-07 without mTLS: no caller has the viewer principal, so every request is 403 and the app is never reached', { timeout: 15_000 }, async () => {
  const w = await startWorkload('127.88.7.1', SEED);
  try {
    for (const method of ['GET', 'POST']) {
      const r = await send(w, { method, path: `/productpage-${method}` });
      assert.deepEqual(r, { status: 403, body: 'RBAC: access denied' });
      assert.equal((await entry(w, `/productpage-${method}`)).responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    }
    assert.equal(w.appHits(), 0);
    assert.equal(w.proxy.stats()['http.inbound_127.88.7.1_9080.rbac.denied'], 2);
    assert.ok(w.logs.some((l) => /rbac: denied GET .*\/productpage-GET .*ALLOW policy none/.test(l)));
  } finally {
    await w.close();
  }
});

void test('DENY before ALLOW: the deny names its policy and rule in the access log, stats and log, never to the client', { timeout: 15_000 }, async () => {
  const yaml = [
    ap('allow-reads', '{ rules: [{ to: [{ operation: { methods: [GET, HEAD] } }] }, { to: [{ operation: { methods: [POST], paths: ["/api/*"] } }] }] }'),
    ap('deny-admin', '{ action: DENY, rules: [{ to: [{ operation: { paths: ["/public"] } }] }, { to: [{ operation: { paths: ["/admin*"] } }], when: [{ key: "request.headers[x-user]", notValues: [root] }] }] }'),
  ].join('---\n');
  const w = await startWorkload('127.88.7.2', yaml);
  try {
    assert.equal((await send(w, { path: '/hello' })).status, 200);
    assert.equal((await send(w, { method: 'POST', path: '/api/items' })).status, 200);
    const post = await send(w, { method: 'POST', path: '/other' });
    assert.equal(post.status, 403);
    assert.equal((await entry(w, '/other')).responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    const admin = await send(w, { path: '/admin/users', headers: { 'x-user': 'alice' } });
    assert.deepEqual(admin, { status: 403, body: 'RBAC: access denied' });
    const e = await entry(w, '/admin/users');
    assert.equal(e.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[default]-policy[deny-admin]-rule[1]]');
    assert.equal(e.responseCode, 403);
    assert.ok(w.logs.some((l) => l.includes('/admin/users') && l.includes('DENY policy ns[default]-policy[deny-admin]-rule[1]')));
    assert.equal((await send(w, { path: '/admin/users', headers: { 'x-user': 'root' } })).status, 200);
    assert.equal((await send(w, { path: '/public' })).status, 403);
    const stats = w.proxy.stats();
    assert.equal(stats['http.inbound_127.88.7.2_9080.rbac.denied'], 3, 'one denial by the ALLOW filter, two by the DENY filter');
    assert.ok(stats['http.inbound_127.88.7.2_9080.rbac.allowed'] >= 3);
    // Per-policy counters name the rule that decided (track_per_rule_stats).
    assert.equal(stats['http.inbound_127.88.7.2_9080.rbac.policy.ns[default]-policy[deny-admin]-rule[1].denied'], 1);
    assert.equal(stats['http.inbound_127.88.7.2_9080.rbac.policy.ns[default]-policy[deny-admin]-rule[0].denied'], 1);
    assert.ok(stats['http.inbound_127.88.7.2_9080.rbac.policy.ns[default]-policy[allow-reads]-rule[0].allowed'] >= 2);
  } finally {
    await w.close();
  }
});

void test('ALLOW {} denies everything until another ALLOW matches; ipBlocks, remoteIpBlocks (x-forwarded-for) and their not forms', { timeout: 15_000 }, async () => {
  const yaml = [
    ap('allow-nothing', '{}'),
    ap('from-lab', '{ rules: [{ from: [{ source: { ipBlocks: ["127.88.77.0/24"], notIpBlocks: ["127.88.77.13"] } }] }] }'),
    ap('behind-lb', '{ rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }], to: [{ operation: { paths: ["/lb"] } }] }] }'),
  ].join('---\n');
  const w = await startWorkload('127.88.7.3', yaml);
  try {
    assert.equal((await send(w, { from: '127.88.77.5' })).status, 200);
    assert.equal((await send(w, { from: '127.88.77.13' })).status, 403);
    assert.equal((await send(w, { from: '127.0.0.1' })).status, 403);
    assert.equal((await send(w, { from: '127.0.0.1', path: '/lb', headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' } })).status, 200);
    assert.equal((await send(w, { from: '127.0.0.1', path: '/lb', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' } })).status, 403);
    // h2c: the caller's address comes from the HTTP/2 session's socket.
    assert.equal(await h2Status(w, '127.88.77.5'), 200);
    assert.equal(await h2Status(w, '127.0.0.1'), 403);
  } finally {
    await w.close();
  }
});

void test('mesh-wide (root namespace) and namespace-wide policies apply; dry-run only counts; another namespace\'s policy never applies', { timeout: 15_000 }, async () => {
  const yaml = [
    ap('no-delete', '{ action: DENY, rules: [{ to: [{ operation: { methods: [DELETE] } }] }] }', 'istio-system'),
    ap('no-secret', '{ action: DENY, selector: { matchLabels: { app: productpage } }, rules: [{ to: [{ operation: { paths: ["/secret"] } }] }] }'),
    ap('not-here', '{ action: DENY, rules: [{}] }', 'other'),
    ap('trial', '{ action: DENY, rules: [{ to: [{ operation: { methods: [PUT] } }] }] }', 'default', ', annotations: { istio.io/dry-run: "true" }'),
  ].join('---\n');
  const w = await startWorkload('127.88.7.4', yaml);
  try {
    assert.equal((await send(w, { method: 'DELETE', path: '/x' })).status, 403);
    assert.match((await entry(w, '/x')).responseCodeDetails, /ns\[istio-system\]-policy\[no-delete\]-rule\[0\]/);
    assert.equal((await send(w, { path: '/secret' })).status, 403);
    assert.equal((await send(w, { path: '/fine' })).status, 200);
    assert.equal((await send(w, { method: 'PUT', path: '/trial' })).status, 200);
    assert.equal(w.proxy.stats()['http.inbound_127.88.7.4_9080.rbac.istio_dry_run_deny_shadow_denied'], 1);
  } finally {
    await w.close();
  }
});

/** Raw bytes from a chosen local address, sent as soon as the connection opens; everything received until close. */
function rawFrom(host: string, port: number, from: string, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: from });
    let got = '';
    const t = setTimeout(() => s.destroy(), 5000);
    s.setEncoding('latin1');
    s.on('data', (c: string) => (got += c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
    s.on('connect', () => s.write(data));
  });
}

void test('TCP ports: network RBAC lets the allowed caller through tcp_proxy and closes everyone else\'s connection without a byte', { timeout: 15_000 }, async () => {
  const yaml = [
    'apiVersion: v1\nkind: Service\nmetadata: { name: db }\nspec: { selector: { app: productpage }, ports: [{ name: tcp, port: 5432 }] }\n',
    ap('db-clients', '{ rules: [{ from: [{ source: { ipBlocks: ["127.88.78.0/24"] } }], to: [{ operation: { ports: ["5432"] } }] }] }'),
  ].join('---\n');
  const w = await startWorkload('127.88.7.5', yaml, { app: 'productpage' }, { tcp: 5432 });
  try {
    const req = 'GET /over-tcp HTTP/1.1\r\nhost: db\r\nconnection: close\r\n\r\n';
    const upstreams = (): number => w.proxy.stats()['cluster.inbound|5432||.upstream_cx_total'] ?? 0;
    assert.match(await rawFrom(w.address, 5432, '127.88.78.2', req), /^HTTP\/1\.1 200/);
    assert.equal(await rawFrom(w.address, 5432, '127.0.0.1', req), '');
    assert.equal(upstreams(), 1, 'the denied connection never reached the app');
    const stats = w.proxy.stats();
    assert.equal(stats['tcp.rbac.allowed'], 1);
    assert.equal(stats['tcp.rbac.denied'], 1);
    assert.ok(w.logs.some((l) => l.includes('denied connection from 127.0.0.1') && l.includes('policy none')));
  } finally {
    await w.close();
  }
});
