// The server's authenticate hook: called once per stream before anything is served; a denial (or a
// throw) ends the stream with PERMISSION_DENIED and no connect event; the principal reaches the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createXdsServer } from './server.js';
import { createAdsClient } from './client.js';
import { TYPE } from './protos.js';
import type { NodeInfo, XdsPeer } from './types.js';

const until = async (what: string, f: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

void test('authenticate: denied and throwing streams get PERMISSION_DENIED, accepted ones are served with their principal', async () => {
  const asked: (XdsPeer | undefined)[] = [];
  const connects: string[] = [];
  const server = createXdsServer({
    resources: (_node: NodeInfo, _t: string, _n: readonly string[] | '*', peer?: XdsPeer) => {
      asked.push(peer);
      return new Map([['l1', { name: 'l1' }]]);
    },
  }, {
    authenticate: (node) => {
      if (node.id === 'bad') return { denied: 'node bad is not who it says' };
      if (node.id === 'boom') throw new Error('hook exploded');
      return { principal: `principal-of-${node.id}` };
    },
  });
  server.on('connect', (e) => connects.push(e.node.id));
  const { port } = await server.listen('127.0.0.1:0');
  const run = (id: string) => {
    const c = createAdsClient({ address: `127.0.0.1:${port}`, node: { id, metadata: {} }, backoff: { initialMs: 100, maxMs: 200 } });
    const r = { c, got: 0, errors: [] as string[] };
    c.subscribe(TYPE.listener, '*', () => { r.got++; });
    c.on('disconnected', (e) => r.errors.push(e.error));
    c.start();
    return r;
  };
  const bad = run('bad');
  const boom = run('boom');
  const good = run('good');
  try {
    await until('refusals and a served stream', () => bad.errors.length > 0 && boom.errors.length > 0 && good.got > 0);
    assert.match(bad.errors[0], /PERMISSION_DENIED/);
    assert.match(bad.errors[0], /node bad is not who it says/);
    assert.match(boom.errors[0], /PERMISSION_DENIED.*authentication failed: hook exploded/);
    assert.equal(bad.got + boom.got, 0);
    assert.deepEqual(connects, ['good']);
    assert.equal(asked[0]?.principal, 'principal-of-good');
    assert.equal(asked[0]?.certificate, undefined, 'plaintext: no certificate');
    assert.equal(server.status().find((s) => s.node.id === 'good')?.principal, 'principal-of-good');
  } finally {
    for (const r of [bad, boom, good]) r.c.close();
    await server.close();
  }
});
