import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory.js';
import { startApiServer, type ApiServer } from './server.js';
import { reply } from './router.js';
import { apiError } from './status.js';
import type { Diagnostic, ResourceList, Status } from './types.js';
import type { Resource } from '../model/index.js';

/** Stand-in for src/config's validateResource: `spec.bad` is an error, `spec.warn` a warning. */
function testValidate(obj: unknown): Diagnostic[] {
  const spec = (obj as { spec?: Record<string, unknown> } | null)?.spec ?? {};
  const out: Diagnostic[] = [];
  if ('bad' in spec) out.push({ severity: 'error', code: 'WEFT-TEST-BAD', message: 'field "bad" is not allowed', path: 'spec.bad' });
  if ('warn' in spec) out.push({ severity: 'warning', code: 'WEFT-TEST-WARN', message: 'field "warn" is deprecated', path: 'spec.warn' });
  return out;
}

let store: MemoryStore;
let api: ApiServer;
let ready = true;
before(async () => {
  store = new MemoryStore();
  api = await startApiServer({ store, validate: testValidate, ready: () => ready });
});
after(async () => {
  await api.close();
  await store.close();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(api.url + path, {
    method, headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (text ? JSON.parse(text) : undefined) as unknown };
}

const VS = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
const vs = (name: string, spec: Record<string, unknown> = { hosts: [name] }, extra: Partial<Resource['metadata']> = {}) => ({
  apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name, ...extra }, spec,
});

function assertStatus(json: unknown, code: number, reason: string, message?: RegExp): Status {
  const s = json as Status;
  assert.equal(s.kind, 'Status');
  assert.equal(s.apiVersion, 'v1');
  assert.equal(s.status, 'Failure');
  assert.equal(s.code, code);
  assert.equal(s.reason, reason);
  if (message) assert.match(s.message, message);
  return s;
}

void test('create, get, replace, delete a VirtualService; objects keep the apiVersion they were written with', async () => {
  const created = await call('POST', VS, vs('reviews'));
  assert.equal(created.status, 201);
  const obj = created.json as Resource;
  assert.equal(obj.apiVersion, 'networking.istio.io/v1beta1');
  assert.equal(obj.metadata.namespace, 'default');
  assert.equal(obj.metadata.generation, 1);
  const got = await call('GET', '/apis/networking.istio.io/v1alpha3/namespaces/default/virtualservices/reviews');
  assert.deepEqual(got.json, obj);
  const replaced = await call('PUT', `${VS}/reviews`, vs('reviews', { hosts: ['r2'] }, { resourceVersion: obj.metadata.resourceVersion }));
  assert.equal(replaced.status, 200);
  assert.equal((replaced.json as Resource).metadata.generation, 2);
  const stale = await call('PUT', `${VS}/reviews`, vs('reviews', { hosts: ['r3'] }, { resourceVersion: obj.metadata.resourceVersion }));
  assertStatus(stale.json, 409, 'Conflict', /virtualservices.networking.istio.io "reviews": the object has been modified/);
  const unconditional = await call('PUT', `${VS}/reviews`, { spec: { hosts: ['r4'] } });
  assert.equal(unconditional.status, 200);
  assert.deepEqual((unconditional.json as Resource).spec, { hosts: ['r4'] });
  assert.equal((unconditional.json as Resource).apiVersion, 'networking.istio.io/v1', 'missing apiVersion: the one in the URL');
  const deleted = await call('DELETE', `${VS}/reviews`);
  assert.equal(deleted.status, 200);
  assert.equal((deleted.json as Resource).metadata.name, 'reviews');
  const s = assertStatus((await call('GET', `${VS}/reviews`)).json, 404, 'NotFound', /virtualservices.networking.istio.io "reviews" not found/);
  assert.deepEqual(s.details, { name: 'reviews', group: 'networking.istio.io', kind: 'virtualservices' });
  assertStatus((await call('DELETE', `${VS}/reviews`)).json, 404, 'NotFound');
  assertStatus((await call('PUT', `${VS}/reviews`, vs('reviews'))).json, 404, 'NotFound');
});

void test('409 AlreadyExists on create; 400 on namespace/name/kind mismatch and bad JSON', async () => {
  assert.equal((await call('POST', VS, vs('dup'))).status, 201);
  assertStatus((await call('POST', VS, vs('dup'))).json, 409, 'AlreadyExists', /"dup" already exists/);
  assertStatus((await call('POST', VS, vs('x', undefined, { namespace: 'prod' }))).json, 400, 'BadRequest', /namespace of the provided object \(prod\)/);
  assertStatus((await call('PUT', `${VS}/dup`, vs('other'))).json, 400, 'BadRequest', /name of the object \(other\) does not match/);
  assertStatus((await call('POST', VS, { ...vs('y'), kind: 'DestinationRule' })).json, 400, 'BadRequest', /kind "DestinationRule"/);
  assertStatus((await call('POST', VS, { ...vs('y'), apiVersion: 'security.istio.io/v1' })).json, 400, 'BadRequest', /apiVersion/);
  assertStatus((await call('POST', VS, '{"kind": "VirtualService",')).json, 400, 'BadRequest', /not valid JSON: .*JSON/);
  assertStatus((await call('POST', VS, '')).json, 400, 'BadRequest', /empty/);
  assertStatus((await call('POST', VS, '[1]')).json, 400, 'BadRequest', /must be a VirtualService object/);
});

void test('422 Invalid carries causes and stores nothing; warnings come back as Warning headers', async () => {
  const rev = store.revision();
  const bad = await call('POST', VS, vs('invalid', { hosts: ['a'], bad: 1 }));
  const s = assertStatus(bad.json, 422, 'Invalid', /VirtualService.networking.istio.io "invalid" is invalid: spec.bad: field "bad" is not allowed/);
  assert.deepEqual(s.details.causes, [{ field: 'spec.bad', message: 'field "bad" is not allowed', reason: 'WEFT-TEST-BAD' }]);
  assert.equal(s.details.diagnostics?.[0].name, 'invalid');
  assert.equal(store.revision(), rev);
  const noName = await call('POST', VS, { spec: {} });
  assertStatus(noName.json, 422, 'Invalid', /metadata.name is required/);
  const warned = await call('POST', VS, vs('warned', { hosts: ['a'], warn: true }));
  assert.equal(warned.status, 201);
  assert.equal(warned.headers.get('warning'), '299 - "VirtualService default/warned: spec.warn: field \\"warn\\" is deprecated"');
});

void test('lists: per namespace, across namespaces, core services and cluster-scoped namespaces', async () => {
  await call('POST', '/apis/networking.istio.io/v1/namespaces/prod/virtualservices', vs('p1'));
  await call('POST', '/apis/networking.istio.io/v1/namespaces/prod/virtualservices', vs('p2'));
  await call('POST', '/api/v1/namespaces/prod/services', { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } });
  await call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } });
  const prod = (await call('GET', '/apis/networking.istio.io/v1beta1/namespaces/prod/virtualservices')).json as ResourceList;
  assert.equal(prod.kind, 'VirtualServiceList');
  assert.equal(prod.apiVersion, 'networking.istio.io/v1beta1');
  assert.equal(prod.metadata.resourceVersion, store.revision());
  assert.deepEqual(prod.items.map((r) => r.metadata.name), ['p1', 'p2']);
  const all = (await call('GET', '/apis/networking.istio.io/v1/virtualservices')).json as ResourceList;
  assert.ok(all.items.some((r) => r.metadata.namespace === 'default') && all.items.some((r) => r.metadata.namespace === 'prod'));
  const svcs = (await call('GET', '/api/v1/namespaces/prod/services')).json as ResourceList;
  assert.deepEqual([svcs.kind, svcs.apiVersion, svcs.items[0].metadata.name], ['ServiceList', 'v1', 'web']);
  assert.equal(((await call('GET', '/api/v1/services')).json as ResourceList).items.length, 1);
  assert.equal(((await call('GET', '/api/v1/namespaces/prod/services/web')).json as Resource).kind, 'Service');
  const nsList = (await call('GET', '/api/v1/namespaces')).json as ResourceList;
  assert.deepEqual(nsList.items.map((r) => r.metadata.name), ['prod']);
  assert.equal(((await call('GET', '/api/v1/namespaces/prod')).json as Resource).metadata.namespace, undefined);
  assertStatus((await call('GET', '/apis/networking.istio.io/v9/virtualservices')).json, 404, 'NotFound', /could not find the requested resource/);
  assertStatus((await call('GET', '/apis/nope.io/v1/namespaces/default/things')).json, 404, 'NotFound');
  assertStatus((await call('POST', '/apis/networking.istio.io/v1/virtualservices', vs('z'))).json, 405, 'MethodNotAllowed', /needs a namespace/);
  assertStatus((await call('PATCH', `${VS}/p1`, {})).json, 405, 'MethodNotAllowed');
  assertStatus((await call('GET', '/nothing/here')).json, 404, 'NotFound');
});

void test('413 for bodies over the cap, 401 from the authorize hook, health and readiness', async () => {
  const s2 = new MemoryStore();
  const small = await startApiServer({
    store: s2, validate: testValidate, maxBodyBytes: 1024,
    authorize: (req) => req.headers.authorization === 'Bearer secret',
  });
  try {
    const auth = { authorization: 'Bearer secret' };
    const big = await fetch(`${small.url}${VS}`, { method: 'POST', headers: auth, body: JSON.stringify(vs('big', { pad: 'x'.repeat(5000) })) });
    assertStatus(await big.json(), 413, 'RequestEntityTooLarge', /1024 bytes/);
    const denied = await fetch(`${small.url}${VS}`, { method: 'POST', body: JSON.stringify(vs('a')) });
    assertStatus(await denied.json(), 401, 'Unauthorized');
    assertStatus(await (await fetch(`${small.url}${VS}`, { headers: { authorization: 'Bearer wrong' } })).json(), 401, 'Unauthorized');
    assert.equal((await fetch(`${small.url}${VS}`, { headers: auth })).status, 200);
    assert.equal((await fetch(`${small.url}/healthz`)).status, 200, 'health needs no token');
    assert.equal(s2.revision(), '0');
  } finally {
    await small.close();
    await s2.close();
  }
  assert.equal(await (await fetch(`${api.url}/healthz`)).text(), 'ok\n');
  assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
  ready = false;
  assert.equal((await fetch(`${api.url}/readyz`)).status, 503);
  ready = true;
});

void test('custom routes: params, precedence over the generic resource routes, errors as Status', async () => {
  api.route('GET', '/apis/weft.dev/v1/namespaces/:ns/workloads/:name', (ctx) => ({ ns: ctx.params.ns, name: ctx.params.name, q: ctx.query.get('q') }));
  api.route('POST', '/apis/weft.dev/v1/namespaces/:ns/workloads', async (ctx) => reply(201, { got: await ctx.body() }));
  api.route('GET', '/debug/*rest', (ctx) => ({ rest: ctx.params.rest }));
  api.route('GET', '/boom', () => { throw new Error('kaput'); });
  api.route('GET', '/teapot', () => { throw apiError(409, 'Conflict', 'custom conflict'); });
  assert.deepEqual((await call('GET', '/apis/weft.dev/v1/namespaces/prod/workloads/w%2F1?q=x')).json, { ns: 'prod', name: 'w/1', q: 'x' });
  const posted = await call('POST', '/apis/weft.dev/v1/namespaces/prod/workloads', { a: 1 });
  assert.equal(posted.status, 201);
  assert.deepEqual(posted.json, { got: { a: 1 } });
  assert.deepEqual((await call('GET', '/debug/config/dump')).json, { rest: 'config/dump' });
  assertStatus((await call('GET', '/boom')).json, 500, 'InternalError', /kaput/);
  assertStatus((await call('GET', '/teapot')).json, 409, 'Conflict', /custom conflict/);
  assertStatus((await call('GET', '/apis/x/v1/namespaces/%E0%A4%A/things')).json, 400, 'BadRequest', /percent-encoding/);
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200, 'the server survived');
});
