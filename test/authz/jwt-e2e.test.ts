// RequestAuthentication (seed 001-06, jwksUri pointed at a local JWKS server) with an
// AuthorizationPolicy on requestPrincipals, through a real sidecar: no token 403, bad token 401,
// good token 200; the attack corpus is refused and logged with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublicKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { request } from '../proxy/helpers.js';
import { ISSUER, b64url, jwksServer, lastEntry, signingKey, startWorkload, token, type TestWorkload } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SEED = readFileSync(join(ROOT, 'test', 'fixtures', 'seeds', '001-06-requestauthentication.yaml'), 'utf8');

const ADDR = '127.88.6.1';

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{ from: [{ source: { requestPrincipals: ["${ISSUER}/*", "aud@weft/*"] } }] }]
`;

function get(w: TestWorkload, path: string, headers: Record<string, string> = {}) {
  return request({ host: w.address, port: w.port, path, headers: { host: 'httpbin:9080', ...headers }, agent: false });
}

void test('seed 001-06 + requestPrincipals: no token 403, bad token 401, good tokens (every algorithm) 200, attacks refused with their reason', { timeout: 20_000 }, async () => {
  const keys = await Promise.all([['RS256', 'rs'], ['ES256', 'es'], ['EdDSA', 'ed'], ['PS256', 'ps'], ['RS512', 'rs5'], ['ES384', 'es3']].map(([a, k]) => signingKey(a, k)));
  const stranger = await signingKey('RS256', 'nope');
  const jwks = await jwksServer(keys.map((k) => k.jwk));
  const yaml = [SEED.replace(/jwksUri: .*/, `jwksUri: "${jwks.url}"`), POLICY,
    `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: aud }\nspec:\n  selector: { matchLabels: { app: httpbin } }\n  jwtRules: [{ issuer: aud@weft, audiences: [weft], jwksUri: "${jwks.url}" }]\n`].join('---\n');
  const w = await startWorkload(ADDR, yaml, { app: 'httpbin' });
  try {
    const none = await get(w, '/headers');
    assert.equal(none.status, 403);
    assert.equal(none.body, 'RBAC: access denied');
    const bad = await get(w, '/headers', { authorization: 'Bearer garbage' });
    assert.equal(bad.status, 401);
    assert.match(String(bad.headers['www-authenticate']), /^Bearer realm=".*", error="invalid_token"$/);
    for (const k of keys) {
      const ok = await get(w, `/ok-${k.alg}`, { authorization: `Bearer ${await token(k)}` });
      assert.equal(ok.status, 200, `${k.alg}: ${ok.body}`);
      assert.equal(ok.json<{ headers: Record<string, string> }>().headers.authorization, undefined, 'the token is removed before forwarding');
    }
    assert.equal((await get(w, `/q?access_token=${await token(keys[0])}`)).status, 200, 'default location ?access_token=');
    assert.equal((await get(w, '/aud', { authorization: `Bearer ${await token(keys[1], { iss: 'aud@weft', aud: ['x', 'weft'] })}` })).status, 200);

    const now = Math.floor(Date.now() / 1000);
    const good = await token(keys[0]);
    const [h, p, s] = good.split('.');
    const pem = createPublicKey({ key: keys[0].jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const attacks: [string, string, RegExp][] = [
      ['alg-none', `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.`, /Jwt signature is an invalid Base64url encoded|algorithm none is not supported/],
      ['alg-none-sig', `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.${b64url('x')}`, /algorithm none is not supported/],
      ['hs256-public-key', await new SignJWT({ iss: ISSUER, sub: 'evil', exp: now + 600 }).setProtectedHeader({ alg: 'HS256', kid: 'rs' }).sign(Buffer.from(String(pem))), /algorithm HS256 is not supported/],
      ['expired', await token(keys[0], { exp: now - 3600, iat: now - 7200 }), /Jwt is expired/],
      ['not-yet-valid', await token(keys[0], { nbf: now + 3600 }), /Jwt not yet valid/],
      ['wrong-issuer', await token(keys[0], { iss: 'evil@example.com' }), /Jwt issuer is not configured/],
      ['wrong-audience', await token(keys[0], { iss: 'aud@weft', aud: 'other' }), /Audiences in Jwt are not allowed/],
      ['tampered', `${h}.${b64url({ ...JSON.parse(Buffer.from(p, 'base64url').toString()) as object, sub: 'admin' })}.${s}`, /Jwt verification fails/],
      ['unknown-kid', await token(stranger), /Jwks doesn't have key to match kid or alg from Jwt/],
      ['malformed-base64', `${h}.%%%not*base64%%%.${s}`, /Jwt payload is an invalid Base64url/],
      ['two-parts', `${h}.${p}`, /Header.Payload.Signature/],
    ];
    for (const [name, tok, why] of attacks) {
      const path = `/attack/${name}`;
      const r = await get(w, path, { authorization: `Bearer ${tok}` });
      assert.equal(r.status, 401, `${name}: ${r.status} ${r.body}`);
      assert.match(r.body, why, name);
      assert.ok(w.logs.some((l) => l.includes(path) && why.test(l)), `${name}: logged with its reason`);
      let e;
      for (let i = 0; i < 100 && !(e = lastEntry(w, path)); i++) await new Promise((res) => setImmediate(res));
      assert.match(e?.responseCodeDetails ?? '', /^jwt_authn_access_denied\{/, name);
    }
    // A 1 MB token never reaches the filter: the header limit refuses it (431); in a query string too (414/431).
    const huge = 'a'.repeat(1 << 20);
    assert.equal((await get(w, '/huge', { authorization: `Bearer ${huge}` }).catch(() => ({ status: 431 }))).status, 431);
    const appHitsBefore = w.appHits();
    assert.equal((await get(w, '/headers', { authorization: `Bearer ${huge.slice(0, 40_000)}` })).status, 401);
    assert.equal(w.appHits(), appHitsBefore);
    assert.equal(jwks.hits(), 1, 'the JWKS is fetched once and cached');
    const stats = w.proxy.stats();
    assert.ok(stats[`http.inbound_${ADDR}_9080.rbac.denied`] >= 1);
    assert.ok(stats[`http.inbound_${ADDR}_9080.rbac.allowed`] >= keys.length);
  } finally {
    await w.close();
    await jwks.close();
  }
});

void test('a JWKS server that is down: requests with a token fail 401 fast, requests without one are untouched; outputs and locations', { timeout: 20_000 }, async () => {
  const key = await signingKey('ES256', 'k');
  const jwks = await jwksServer([key.jwk]);
  const dead = await jwksServer([]);
  await dead.close();
  const yaml = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: r }
spec:
  jwtRules:
  - { issuer: down@weft, jwksUri: "${dead.url}", timeout: 1s }
  - issuer: ${ISSUER}
    jwksUri: "${jwks.url}"
    fromHeaders: [{ name: x-jwt, prefix: "Token " }]
    fromCookies: [session]
    forwardOriginalToken: true
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }, { header: x-jwt-team, claim: org.team }]
`;
  const w = await startWorkload('127.88.6.2', yaml, { app: 'echo' });
  try {
    assert.equal((await get(w, '/plain')).status, 200);
    const t0 = Date.now();
    const down = await get(w, '/down', { authorization: `Bearer ${await token(key, { iss: 'down@weft' })}` });
    assert.equal(down.status, 401);
    assert.equal(down.body, 'Jwks remote fetch is failed');
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
    assert.ok(w.logs.some((l) => l.includes('/down') && l.includes(dead.url)), 'the log says which JWKS failed');
    const t1 = Date.now();
    assert.equal((await get(w, '/down2', { authorization: `Bearer ${await token(key, { iss: 'down@weft' })}` })).status, 401);
    assert.ok(Date.now() - t1 < 500, 'a recent failure fails fast');

    const tok = await token(key, { sub: 'alice', org: { team: 'mesh' } });
    const viaHeader = await get(w, '/h', { 'x-jwt': `Token ${tok}` });
    assert.equal(viaHeader.status, 200, viaHeader.body);
    const seen = viaHeader.json<{ headers: Record<string, string> }>().headers;
    assert.equal(seen['x-jwt'], `Token ${tok}`, 'forwardOriginalToken keeps it');
    assert.equal(seen['x-jwt-sub'], 'alice');
    assert.equal(seen['x-jwt-team'], 'mesh');
    assert.equal(JSON.parse(Buffer.from(seen['x-jwt-payload'], 'base64url').toString()).sub, 'alice');
    assert.equal((await get(w, '/c', { cookie: `a=b; session=${tok}` })).status, 200);
    assert.equal((await get(w, '/c2', { cookie: 'session=bad.token.here' })).status, 401);
    // Only the configured locations count for that rule: a bearer token of its issuer is not looked at.
    assert.equal((await get(w, '/bearer', { authorization: `Bearer ${tok}` })).status, 401, 'the down@weft rule sees it (default location) and fails on issuer');
  } finally {
    await w.close();
    await jwks.close();
  }
});
