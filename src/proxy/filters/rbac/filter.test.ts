// The RBAC engine and HTTP filter on hand-made request contexts (the peer principal set directly,
// as the TLS layer will), including seed 001-07's policy as the translation emits it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpFilterContext, RequestAuthn } from '../types.js';
import type { Headers } from '../../router/headers.js';
import { rbacFactory } from './config.js';
import { compileRbac, evaluate, cidr, type RbacInput } from './engine.js';
import { rbacHttpFilters } from '../../../translate/authz/index.js';
import type { AuthorizationPolicySpec, Resource } from '../../../model/index.js';

interface Reply { status: number; body: string }

function ctx(o: { method?: string; path?: string; authority?: string; headers?: Record<string, string>; principal?: string; authn?: RequestAuthn }): HttpFilterContext & { reply?: Reply } {
  const path = o.path ?? '/';
  const c = {
    view: { method: o.method ?? 'GET', authority: o.authority ?? 'productpage:9080', path, pathOnly: path.split('?')[0], scheme: 'http', headers: o.headers ?? {} },
    route: null, requestHeaders: {} as Headers, requestId: 'r1', downstreamAddress: '127.0.0.1',
    responseFlags: '', responseCodeDetails: '', authn: o.authn ?? null,
    connection: o.principal ? { peerPrincipal: o.principal } : undefined,
    reply: undefined as Reply | undefined,
    perFilterConfig: () => undefined,
    sendLocalReply(status: number, body: string) { c.reply = { status, body }; },
  };
  return c;
}

const SEED: Resource<AuthorizationPolicySpec> = {
  apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-viewer', namespace: 'default' },
  spec: { selector: { matchLabels: { app: 'productpage' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/bookinfo-viewer'] } }], to: [{ operation: { methods: ['GET'] } }] }] },
};

void test('seed 001-07: the viewer may GET, not POST; every other caller (or no mTLS) is refused with 403 RBAC: access denied', async () => {
  const [f] = rbacHttpFilters([SEED]);
  const cfg = rbacFactory.parseConfig(f.typed_config as Record<string, unknown>, 'rbac');
  const filter = rbacFactory.create(cfg);
  const run = async (c: ReturnType<typeof ctx>) => ({ st: await filter.onRequestHeaders!(c), c });
  const ok = await run(ctx({ principal: 'cluster.local/ns/default/sa/bookinfo-viewer' }));
  assert.equal(ok.st, 'continue');
  for (const c of [
    ctx({ principal: 'cluster.local/ns/default/sa/bookinfo-viewer', method: 'POST' }),
    ctx({ principal: 'spiffe://cluster.local/ns/default/sa/other' }),
    ctx({}),
  ]) {
    const r = await run(c);
    assert.equal(r.st, 'stop');
    assert.deepEqual(r.c.reply, { status: 403, body: 'RBAC: access denied' });
    assert.equal(r.c.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
  }
});

void test('DENY names the matched policy and rule; LOG and shadow rules never refuse', async () => {
  const deny = rbacFactory.create(rbacFactory.parseConfig({
    rules: { action: 'DENY', policies: { 'ns[default]-policy[no-admin]-rule[1]': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } },
    shadow_rules: { action: 'DENY', policies: { p: { permissions: [{ any: true }], principals: [{ any: true }] } } },
    shadow_rules_stat_prefix: 'istio_dry_run_deny_',
  }, 'x'));
  const c = ctx({ path: '/admin/users?x=1' });
  assert.equal(await deny.onRequestHeaders!(c), 'stop');
  assert.equal(c.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[default]-policy[no-admin]-rule[1]]');
  assert.equal(await deny.onRequestHeaders!(ctx({ path: '/public' })), 'continue');
  const log = rbacFactory.create(rbacFactory.parseConfig({ rules: { action: 'LOG', policies: { p: { permissions: [{ any: true }], principals: [{ any: true }] } } } }, 'x'));
  assert.equal(await log.onRequestHeaders!(ctx({})), 'continue');
  const noRules = rbacFactory.create(rbacFactory.parseConfig({ shadow_rules: { policies: {} } }, 'x'));
  assert.equal(await noRules.onRequestHeaders!(ctx({})), 'continue');
});

void test('request.auth.* from ctx.authn: principal, audiences, presenter, claims (lists, nested), as Istio\'s istio_authn metadata', async () => {
  const md = (path: string[], value: object) => ({ metadata: { filter: 'istio_authn', path: path.map((key) => ({ key })), value } });
  const allow = (ids: object[]) => rbacFactory.create(rbacFactory.parseConfig({ rules: { policies: { p: { permissions: [{ any: true }], principals: [{ and_ids: { ids } }] } } } }, 'x'));
  const authn: RequestAuthn = { principal: 'iss/sub', claims: { iss: 'iss', sub: 'sub', groups: ['dev', 'admin'], org: { team: 'mesh' }, level: 3 }, audiences: ['a1', 'a2'], presenter: 'cli' };
  const f = allow([
    md(['request.auth.principal'], { string_match: { exact: 'iss/sub' } }),
    md(['request.auth.audiences'], { string_match: { exact: 'a2' } }),
    md(['request.auth.presenter'], { string_match: { prefix: 'cl' } }),
    md(['request.auth.claims', 'groups'], { list_match: { one_of: { string_match: { exact: 'admin' } } } }),
    md(['request.auth.claims', 'org', 'team'], { list_match: { one_of: { string_match: { exact: 'mesh' } } } }),
    md(['request.auth.claims', 'level'], { list_match: { one_of: { string_match: { exact: '3' } } } }),
  ]);
  assert.equal(await f.onRequestHeaders!(ctx({ authn })), 'continue');
  assert.equal(await f.onRequestHeaders!(ctx({})), 'stop');
  assert.equal(await f.onRequestHeaders!(ctx({ authn: { ...authn, claims: { ...authn.claims, groups: ['dev'] } } })), 'stop');
});

function input(o: Partial<RbacInput>): RbacInput {
  return { directRemoteIp: '', remoteIp: '', destinationIp: '', destinationPort: 0, sni: '', peerPrincipal: '', authenticated: false, metadata: () => undefined, ...o };
}

void test('engine: CIDRs (v4, v6, IPv4-mapped), ports, SNI, not/and/or, authenticated without a name, ALLOW with no policies denies', () => {
  const c = cidr({ address_prefix: '10.1.0.0', prefix_len: { value: 16 } }, 'c');
  assert.ok(c('10.1.2.3') && c('::ffff:10.1.9.9') && !c('10.2.0.1') && !c('garbage'));
  const c6 = cidr({ address_prefix: 'fd00::', prefix_len: 8 }, 'c');
  assert.ok(c6('fd12::1') && !c6('fe80::1'));
  assert.throws(() => cidr({ address_prefix: 'x', prefix_len: 8 }, 'p.q'), /p\.q\.address_prefix/);
  const e = compileRbac({ action: 'DENY', policies: {
    a: { permissions: [{ and_rules: { rules: [{ destination_port: 5432 }, { not_rule: { requested_server_name: { exact: 'ok.local' } } }] } }], principals: [{ authenticated: {} }] },
  } }, 'r');
  assert.equal(evaluate(e, input({ destinationPort: 5432, authenticated: true })).policyId, 'a');
  assert.equal(evaluate(e, input({ destinationPort: 5432, authenticated: true, sni: 'ok.local' })).allowed, true);
  assert.equal(evaluate(e, input({ destinationPort: 5432 })).allowed, true);
  assert.equal(evaluate(compileRbac({ policies: {} }, 'r'), input({})).allowed, false);
  assert.throws(() => compileRbac({ action: 'NOPE' }, 'rules'), /rules\.action/);
  assert.throws(() => compileRbac({ policies: { x: { permissions: [{ bogus: 1 }], principals: [{ any: true }] } } }, 'rules'), /unsupported permission bogus/);
});
