import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory.js';
import { startApiServer, type ApiServer } from './server.js';
import type { ApplyResponse, Diagnostic, Status } from './types.js';
import type { Resource } from '../model/index.js';

/** Stand-in for src/config's validateResource: `spec.bad` is an error, `spec.warn` a warning. */
function testValidate(obj: unknown): Diagnostic[] {
  const spec = (obj as { spec?: Record<string, unknown> } | null)?.spec ?? {};
  const out: Diagnostic[] = [];
  if ('bad' in spec) out.push({ severity: 'error', code: 'WEFT-TEST-BAD', message: 'field "bad" is not allowed', path: 'spec.bad' });
  if ('warn' in spec) out.push({ severity: 'warning', code: 'WEFT-TEST-WARN', message: 'field "warn" is deprecated', path: 'spec.warn' });
  return out;
}

/** Stand-in for analyze: a VirtualService whose spec.gateway names a missing Gateway is an error about that VS. */
function testAnalyze(all: Resource[]): Diagnostic[] {
  const gateways = new Set(all.filter((r) => r.kind === 'Gateway').map((r) => r.metadata.name));
  return all.filter((r) => r.kind === 'VirtualService' && typeof (r.spec as { gateway?: string }).gateway === 'string'
    && !gateways.has((r.spec as { gateway: string }).gateway))
    .map((r) => ({ severity: 'error', code: 'IST0101', message: `referenced gateway ${(r.spec as { gateway: string }).gateway} not found`, kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name }));
}

let store: MemoryStore;
let api: ApiServer;
before(async () => {
  store = new MemoryStore();
  api = await startApiServer({ store, validate: testValidate, analyze: testAnalyze });
});
after(async () => {
  await api.close();
  await store.close();
});

async function apply(body: unknown): Promise<{ status: number; json: unknown; warning: string | null }> {
  const res = await fetch(`${api.url}/apis/weft.dev/v1/apply`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json(), warning: res.headers.get('warning') };
}

const vs = (name: string, spec: Record<string, unknown> = { hosts: [name] }, namespace?: string): Resource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, ...(namespace ? { namespace } : {}) }, spec,
});
const gw = (name: string): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name }, spec: { servers: [] } });
const actions = (r: unknown) => (r as ApplyResponse).items.map((i) => `${i.kind} ${i.namespace}/${i.name} ${i.action}`);

void test('apply creates, leaves identical objects unchanged, configures changed ones, in one batch', async () => {
  const first = await apply({ items: [vs('a1'), vs('a2', undefined, 'prod'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } }] });
  assert.equal(first.status, 200);
  assert.deepEqual(actions(first.json), ['VirtualService default/a1 created', 'VirtualService prod/a2 created', 'Namespace /prod created']);
  const r1 = first.json as ApplyResponse;
  assert.equal(r1.kind, 'ApplyResult');
  assert.equal(r1.dryRun, false);
  assert.deepEqual(r1.warnings, []);
  assert.equal(r1.items[0].resourceVersion, r1.revision);
  assert.equal(r1.items[1].resourceVersion, r1.revision, 'one batch, one revision');
  const second = await apply({ items: [vs('a1'), vs('a2', { hosts: ['changed'] }, 'prod')] });
  assert.deepEqual(actions(second.json), ['VirtualService default/a1 unchanged', 'VirtualService prod/a2 configured']);
  assert.equal(Number((second.json as ApplyResponse).revision), Number(r1.revision) + 1);
});

void test('one invalid item among valid ones: 422 naming it, and the store is unchanged', async () => {
  const rev = store.revision();
  const before = await store.list();
  const res = await apply({ items: [vs('b1'), vs('b2', { bad: true }), vs('a1', { hosts: ['would-change'] }), { kind: 'Nope', metadata: { name: 'n' } }] });
  assert.equal(res.status, 422);
  const s = res.json as Status;
  assert.equal(s.reason, 'Invalid');
  assert.match(s.message, /nothing was changed: 2 of 4 item\(s\) invalid: VirtualService default\/b2: spec.bad: field "bad" is not allowed/);
  assert.deepEqual(s.details.causes?.map((c) => c.field), ['items[1].spec.bad', 'items[3].kind', 'items[3].apiVersion']);
  assert.equal(s.details.diagnostics?.[0].name, 'b2');
  assert.equal(store.revision(), rev);
  assert.deepEqual(await store.list(), before);
});

void test('dry run reports what would happen and changes nothing; warnings come back in body and headers', async () => {
  const rev = store.revision();
  const res = await apply({ items: [vs('c1', { hosts: ['c'], warn: 1 }), vs('a1'), vs('a1', { hosts: ['x'] }, 'other')], dryRun: true });
  assert.equal(res.status, 200);
  assert.deepEqual(actions(res.json), ['VirtualService default/c1 created', 'VirtualService default/a1 unchanged', 'VirtualService other/a1 created']);
  assert.equal((res.json as ApplyResponse).dryRun, true);
  assert.deepEqual((res.json as ApplyResponse).warnings.map((w) => [w.code, w.name]), [['WEFT-TEST-WARN', 'c1']]);
  assert.match(res.warning ?? '', /^299 - "VirtualService default\/c1: spec.warn/);
  assert.equal(store.revision(), rev);
  assert.equal(await store.get({ kind: 'VirtualService', namespace: 'default', name: 'c1' }), undefined);
});

void test('delete: existing objects are deleted atomically, missing ones reported as not found', async () => {
  await apply({ items: [vs('d1'), vs('d2')] });
  const dry = await apply({ items: [vs('d1'), vs('nope')], delete: true, dryRun: true });
  assert.deepEqual(actions(dry.json), ['VirtualService default/d1 deleted', 'VirtualService default/nope not found']);
  assert.ok(await store.get({ kind: 'VirtualService', namespace: 'default', name: 'd1' }));
  // an object that no longer validates can still be deleted
  const res = await apply({ items: [vs('d1', { bad: 1 }), vs('nope'), vs('d2')], delete: true });
  assert.equal(res.status, 200);
  assert.deepEqual(actions(res.json), ['VirtualService default/d1 deleted', 'VirtualService default/nope not found', 'VirtualService default/d2 deleted']);
  assert.equal(await store.get({ kind: 'VirtualService', namespace: 'default', name: 'd1' }), undefined);
  assert.equal(await store.get({ kind: 'VirtualService', namespace: 'default', name: 'd2' }), undefined);
});

void test('analyze: errors about applied items block; findings about other objects are warnings', async () => {
  const rev = store.revision();
  const blocked = await apply({ items: [vs('e1', { gateway: 'gw1' })] });
  assert.equal(blocked.status, 422);
  assert.match((blocked.json as Status).message, /VirtualService default\/e1: referenced gateway gw1 not found/);
  assert.equal((blocked.json as Status).details.causes?.[0].field, 'items[0]');
  assert.equal(store.revision(), rev);
  const ok = await apply({ items: [gw('gw1'), vs('e1', { gateway: 'gw1' })] });
  assert.deepEqual(actions(ok.json), ['Gateway default/gw1 created', 'VirtualService default/e1 created']);
  const del = await apply({ items: [gw('gw1')], delete: true });
  assert.equal(del.status, 200, 'a delete that breaks a reference is not blocked');
  assert.deepEqual((del.json as ApplyResponse).warnings.map((w) => [w.severity, w.code, w.name]), [['warning', 'IST0101', 'e1']]);
  const unrelated = await apply({ items: [vs('e2')] });
  assert.equal(unrelated.status, 200, 'an old problem elsewhere does not block other applies');
  assert.equal((unrelated.json as ApplyResponse).warnings.length, 1);
});

void test('malformed apply requests: 400 for the envelope, 422 for duplicates, 413 past 16 MiB', async () => {
  assert.equal(((await apply('{"items":')).json as Status).reason, 'BadRequest');
  assert.match(((await apply({ items: 'x' })).json as Status).message, /"items" must be an array/);
  assert.match(((await apply({ items: [], dryRun: 'yes' })).json as Status).message, /"dryRun" must be true or false/);
  const dup = await apply({ items: [vs('f1'), vs('f1', { hosts: ['other'] })] });
  assert.equal(dup.status, 422);
  assert.match((dup.json as Status).message, /duplicate of items\[0\]/);
  const empty = await apply({ items: [] });
  assert.deepEqual((empty.json as ApplyResponse).items, []);
  const big = await apply({ items: [vs('huge', { pad: 'x'.repeat(16 * 1024 * 1024) })] });
  assert.equal(big.status, 413);
  assert.equal((big.json as Status).reason, 'RequestEntityTooLarge');
});
