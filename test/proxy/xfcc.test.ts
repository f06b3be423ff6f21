// X-Forwarded-Client-Cert from a connection without a client certificate: removed (it could be
// forged: an app trusting it would believe any caller), unless the HCM says ALWAYS_FORWARD_ONLY.
// The mTLS modes (APPEND_FORWARD at sidecars, SANITIZE_SET at gateways) are covered end to end in
// test/security/mtls and test/gateway/gateway-tls.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { Proxy } from '../../src/proxy/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { close, echoServer, hcm, listener, map, mustUpdate, request, routeTo, staticCluster, vhost, waitFor } from './helpers.js';

const ADDR = '127.0.10.24';
const FORGED = 'By=spiffe://cluster.local/ns/default/sa/app;URI=spiffe://cluster.local/ns/default/sa/admin';

void describe('X-Forwarded-Client-Cert on plaintext connections', { timeout: 60_000 }, () => {
  let proxy: Proxy;
  let app: http.Server;

  before(async () => {
    const e = await echoServer('app');
    app = e.server;
    proxy = new Proxy({ nodeId: 'sidecar~127.0.10.24~app.default~default.svc.cluster.local', address: ADDR, adminPort: 0 });
    await proxy.start();
    mustUpdate(proxy, 'cluster', map([staticCluster('app', [['127.0.0.1', e.port]])]));
  });

  after(async () => {
    await proxy.close();
    await close(app);
  });

  const routes = { inline: { name: 'in', virtual_hosts: [vhost('in', ['*'], [routeTo('app')])] } };
  async function seen(extra: Record<string, unknown>): Promise<string | undefined> {
    mustUpdate(proxy, 'listener', map([listener('in', ADDR, 0, hcm('in', routes, extra))]));
    await waitFor(() => proxy.listenerPort('in') !== undefined, 'listener bound');
    const r = await request({ host: ADDR, port: proxy.listenerPort('in')!, headers: { 'x-forwarded-client-cert': FORGED }, agent: false });
    assert.equal(r.status, 200);
    return r.json<{ headers: Record<string, string> }>().headers['x-forwarded-client-cert'];
  }

  for (const mode of [undefined, 'SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET']) {
    void it(`${mode ?? 'unset (SANITIZE)'}: removed`, async () => {
      assert.equal(await seen(mode ? { forward_client_cert_details: mode } : {}), undefined);
    });
  }

  void it('ALWAYS_FORWARD_ONLY: forwarded as it came', async () => {
    assert.equal(await seen({ forward_client_cert_details: 'ALWAYS_FORWARD_ONLY' }), FORGED);
  });

  void it('an unknown mode is refused, naming the field', () => {
    const r = proxy.update(TYPE.listener, map([listener('in', ADDR, 0, hcm('in', routes, { forward_client_cert_details: 'TRUST_EVERYONE' }))]));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /forward_client_cert_details: unknown value TRUST_EVERYONE/);
  });
});
