// Network RBAC on real accepted sockets: the caller's address and the destination port decide,
// DENY names its policy in the log, stats land under `<stat_prefix>rbac.`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { StatsStore } from '../stats.js';
import { compileNetworkRbac } from './filter.js';
import { rbacNetworkFilters } from '../../translate/authz/index.js';
import type { AuthorizationPolicySpec, Resource } from '../../model/index.js';

/** Accepts one connection from `from` and hands the server-side socket over. */
async function accepted(from: string): Promise<{ sock: net.Socket; done: () => void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.88.9.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ host: '127.88.9.1', port, localAddress: from });
  client.on('error', () => {});
  const sock = await got;
  return { sock, done: () => { client.destroy(); sock.destroy(); server.close(); } };
}

const policy = (spec: AuthorizationPolicySpec, name = 'p'): Resource<AuthorizationPolicySpec> => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'default' }, spec });

void test('network RBAC from translated policies: ALLOW by ipBlocks, DENY by port with the policy named, stats under tcp.rbac', async () => {
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const stats = new StatsStore();
  const filters = rbacNetworkFilters([
    policy({ action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['127.88.9.66'] } }], to: [{ operation: { methods: ['GET'] } }] }] }, 'no-66'),
    policy({ rules: [{ from: [{ source: { ipBlocks: ['127.88.9.0/24'] } }] }, { to: [{ operation: { paths: ['/http-only'] } }] }] }, 'lab'),
  ]);
  const [deny, allow] = filters.map((f, i) => compileNetworkRbac(f.typed_config as Record<string, unknown>, `filters[${i}]`));
  const ok = await accepted('127.88.9.5');
  const far = await accepted('127.0.0.1');
  const bad = await accepted('127.88.9.66');
  try {
    assert.equal(deny.check(ok.sock, stats, log).allowed, true);
    assert.equal(allow.check(ok.sock, stats, log).allowed, true);
    const d = allow.check(far.sock, stats, log);
    assert.deepEqual(d, { allowed: false, policy: 'none' });
    // The DENY rule's HTTP-only `methods` is dropped for TCP: any connection from .66 is denied.
    assert.deepEqual(deny.check(bad.sock, stats, log), { allowed: false, policy: 'ns[default]-policy[no-66]-rule[0]' });
    assert.ok(logs.some((l) => l.includes('127.88.9.66') && l.includes('ns[default]-policy[no-66]-rule[0]')));
    assert.deepEqual(stats.group('tcp.rbac'), { allowed: 2, denied: 2 });
    assert.ok(stats.flatten().some(([n, v]) => n === 'tcp.rbac.denied' && v === 2));
  } finally {
    ok.done();
    far.done();
    bad.done();
  }
});

void test('network RBAC config errors name the field', () => {
  assert.throws(() => compileNetworkRbac({ rules: {} }, 'f'), /f\.stat_prefix: missing/);
  assert.throws(() => compileNetworkRbac({ stat_prefix: 'x.', rules: { policies: { a: { permissions: [{ destination_ip: { address_prefix: 'nope' } }], principals: [{ any: true }] } } } }, 'f'), /destination_ip\.address_prefix/);
  const none = compileNetworkRbac({ stat_prefix: 'x.' }, 'f');
  assert.equal(none.check(new net.Socket(), new StatsStore(), { info() {}, warn() {}, error() {} }).allowed, true);
});
