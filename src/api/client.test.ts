import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStore } from '../store/memory.js';
import { startApiServer, type ApiServer } from './server.js';
import { ApiClient, ApiStatusError, ApiUnreachableError } from './client.js';
import type { Diagnostic } from './types.js';
import type { Resource } from '../model/index.js';

const validate = (obj: unknown): Diagnostic[] => ('bad' in ((obj as { spec?: object }).spec ?? {})
  ? [{ severity: 'error', code: 'WEFT-TEST-BAD', message: 'field "bad" is not allowed', path: 'spec.bad' }] : []);

let store: MemoryStore;
let api: ApiServer;
let client: ApiClient;
before(async () => {
  store = new MemoryStore();
  api = await startApiServer({ store, validate, authorize: (req) => req.headers.authorization === 'Bearer t0k' });
  api.route('GET', '/apis/weft.dev/v1/hang', () => new Promise(() => undefined));
  api.route('GET', '/apis/weft.dev/v1/info', () => ({ version: 'test' }));
  client = new ApiClient(`${api.url}/`, { token: 't0k' });
});
after(async () => {
  await api.close();
  await store.close();
});

const dr = (name: string, namespace?: string): Resource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, ...(namespace ? { namespace } : {}) }, spec: { host: name },
});

void test('client CRUD by kind, plural or short name; errors carry the Status', async () => {
  const created = await client.create(dr('reviews'));
  assert.equal(created.metadata.namespace, 'default');
  assert.deepEqual(await client.get('dr', 'default', 'reviews'), created);
  assert.deepEqual(await client.get('destinationrules', undefined, 'reviews'), created, 'namespace defaults to default');
  await assert.rejects(client.create(dr('reviews')), (e: unknown) => e instanceof ApiStatusError && e.code === 409 && e.reason === 'AlreadyExists');
  const replaced = await client.replace({ ...created, spec: { host: 'reviews2' } });
  assert.equal(replaced.metadata.generation, 2);
  await assert.rejects(client.replace({ ...created, spec: { host: 'x' } }), (e: unknown) => e instanceof ApiStatusError && e.reason === 'Conflict');
  await assert.rejects(client.create({ ...dr('broken'), spec: { bad: 1 } }), (e: unknown) => e instanceof ApiStatusError && e.code === 422
    && e.status.details.causes?.[0].field === 'spec.bad' && /is invalid: spec.bad/.test(e.message));
  await client.create(dr('other', 'prod'));
  assert.deepEqual((await client.list('DestinationRule')).map((r) => r.metadata.name), ['reviews']);
  assert.deepEqual((await client.list('dr', { namespace: 'prod' })).map((r) => r.metadata.name), ['other']);
  assert.deepEqual((await client.list('dr', { allNamespaces: true })).map((r) => r.metadata.name), ['reviews', 'other']);
  const full = await client.listWithVersion('dr', { allNamespaces: true });
  assert.equal(full.metadata.resourceVersion, store.revision());
  assert.equal((await client.delete('dr', 'prod', 'other')).metadata.name, 'other');
  await assert.rejects(client.delete('dr', 'prod', 'other'), (e: unknown) => e instanceof ApiStatusError && e.code === 404 && e.reason === 'NotFound');
  await assert.rejects(client.get('nosuchkind', undefined, 'x'), /unknown kind "nosuchkind"/);
});

void test('client apply, dry run, namespaces, health and custom endpoints', async () => {
  const res = await client.apply([dr('a1'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' }, spec: {} }], { dryRun: true });
  assert.deepEqual(res.items.map((i) => i.action), ['created', 'created']);
  assert.equal(res.dryRun, true);
  await client.apply([dr('a1'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' }, spec: {} }]);
  assert.deepEqual((await client.list('ns')).map((r) => r.metadata.name), ['prod']);
  assert.equal((await client.get('namespace', 'ignored', 'prod')).kind, 'Namespace');
  const del = await client.apply([dr('a1'), dr('zz')], { delete: true });
  assert.deepEqual(del.items.map((i) => i.action), ['deleted', 'not found']);
  await assert.rejects(client.apply([dr('ok'), { ...dr('bad'), spec: { bad: true } }]), (e: unknown) => e instanceof ApiStatusError && e.code === 422);
  assert.equal(await store.get({ kind: 'DestinationRule', namespace: 'default', name: 'ok' }), undefined);
  assert.deepEqual(await client.health(), { healthy: true, ready: true });
  assert.deepEqual(await client.request('GET', '/apis/weft.dev/v1/info'), { version: 'test' });
});

void test('a missing or wrong token is a 401 ApiStatusError', async () => {
  const anon = new ApiClient(api.url);
  await assert.rejects(anon.list('vs'), (e: unknown) => e instanceof ApiStatusError && e.code === 401 && e.reason === 'Unauthorized');
  assert.deepEqual(await anon.health(), { healthy: true, ready: true });
});

void test('nothing listening, or no answer in time, is an ApiUnreachableError', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const dead = new ApiClient(`http://127.0.0.1:${port}`);
  await assert.rejects(dead.list('vs'), (e: unknown) => e instanceof ApiUnreachableError && e.causeCode === 'ECONNREFUSED'
    && e.message.includes(`127.0.0.1:${port}`));
  await assert.rejects(dead.health(), ApiUnreachableError);
  const slow = new ApiClient(api.url, { token: 't0k', timeoutMs: 200 });
  await assert.rejects(slow.request('GET', '/apis/weft.dev/v1/hang'), (e: unknown) => e instanceof ApiUnreachableError && e.causeCode === 'ETIMEDOUT');
});
