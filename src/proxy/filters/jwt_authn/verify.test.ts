// Token verification against one provider: what passes, and Envoy's reason for everything refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { InlineJwks, parseJwks } from './jwks.js';
import { MAX_TOKEN_BYTES, VerifiedCache, verifyJwt, type ProviderCheck } from './verify.js';

void test('verifyJwt: good tokens pass; none, HS256, lifetime, issuer, audience, tampering, unknown kid, size and encoding are refused with their reason', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const other = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const p: ProviderCheck = { issuer: 'iss', audiences: ['aud'], clockSkewSec: 60, jwks: new InlineJwks(JSON.stringify({ keys: [jwk] })) };
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, key = privateKey, kid = 'k1') => new SignJWT({ iss: 'iss', aud: 'aud', sub: 's', exp: now + 600, ...claims }).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
  const good = await sign({});
  const r = await verifyJwt(good, p);
  assert.ok(r.ok && r.payload.sub === 's');
  assert.ok((await verifyJwt(await sign({ exp: now - 30 }), p)).ok, 'within the 60 s clock skew');
  const [h, pl, sig] = good.split('.');
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const cases: [string, string][] = [
    [`${enc({ alg: 'none' })}.${pl}.${sig}`, 'Jwt algorithm none is not supported'],
    [await new SignJWT({ iss: 'iss', aud: 'aud' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(Buffer.from(JSON.stringify(jwk))), 'Jwt algorithm HS256 is not supported'],
    [await sign({ exp: now - 3600 }), 'Jwt is expired'],
    [await sign({ nbf: now + 3600 }), 'Jwt not yet valid'],
    [await sign({ exp: 'tomorrow' }), 'Jwt exp claim is not a number'],
    [await sign({ iss: 'other' }), 'Jwt issuer is not configured'],
    [await sign({ aud: ['x', 'y'] }), 'Audiences in Jwt are not allowed'],
    [`${h}.${enc({ iss: 'iss', aud: 'aud', sub: 'root', exp: now + 600 })}.${sig}`, 'Jwt verification fails'],
    [await sign({}, other.privateKey, 'k2'), 'Jwks doesn\'t have key to match kid or alg from Jwt'],
    [`${h}.${pl}.${sig}`.padEnd(MAX_TOKEN_BYTES + 1, 'A'), `Jwt is too large (over ${MAX_TOKEN_BYTES} bytes)`],
    ['a'.repeat(1 << 20), `Jwt is too large (over ${MAX_TOKEN_BYTES} bytes)`],
    [`${h}.${pl}`, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
    [`${h}.@@@.${sig}`, 'Jwt payload is an invalid Base64url encoded or an invalid JSON'],
    [`e30K.${pl}.${sig}`, 'Jwt algorithm (none) is not supported'],
    [`${enc([1])}.${pl}.${sig}`, 'Jwt header is an invalid Base64url encoded or an invalid JSON'],
    [`${h}.${pl}.sig+nature`, 'Jwt signature is an invalid Base64url encoded'],
  ];
  for (const [tok, reason] of cases) {
    const v = await verifyJwt(tok, p);
    assert.deepEqual(v.ok ? 'passed' : v.reason, reason, tok.slice(0, 60));
  }
});

void test('JWKS parsing: bad JSON and sets without asymmetric keys are reasons, never exceptions at request time', async () => {
  assert.throws(() => parseJwks('nope'), /Jwks is an invalid JSON/);
  assert.throws(() => parseJwks('{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'), /doesn't have valid keys/);
  const bad = new InlineJwks('{"keys": 3}');
  const r = await verifyJwt(await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).sign((await generateKeyPair('RS256')).privateKey), { issuer: '', audiences: [], clockSkewSec: 0, jwks: bad });
  assert.deepEqual(r, { ok: false, reason: 'Jwks is an invalid JSON: no "keys" list' });
});

void test('VerifiedCache: hits until the token expires, bounded size', () => {
  const c = new VerifiedCache(2);
  const now = 1000;
  c.set('a', { payload: { exp: now + 10 }, payloadB64: '' });
  assert.ok(c.get('a', 0, now));
  assert.equal(c.get('a', 0, now + 11), undefined);
  c.set('b', { payload: {}, payloadB64: '' });
  c.set('c', { payload: {}, payloadB64: '' });
  c.set('d', { payload: {}, payloadB64: '' });
  assert.equal(c.get('b', 0, now), undefined);
  assert.ok(c.get('d', 0, now));
});

void test('remote JWKS: fetched once for concurrent requests, refreshed in the background after cache_duration, old keys serve meanwhile', async () => {
  const http = await import('node:http');
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'r', alg: 'RS256' };
  let hits = 0;
  let fail = false;
  const server = http.createServer((_q, res) => {
    hits++;
    if (fail) res.writeHead(500).end();
    else res.writeHead(200).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { RemoteJwks, clearRemoteJwksCache } = await import('./jwks.js');
  clearRemoteJwksCache();
  const uri = `http://127.0.0.1:${(server.address() as { port: number }).port}/k`;
  try {
    const src = new RemoteJwks({ uri, timeoutMs: 1000, cacheMs: 50, failedRefetchMs: 1000 });
    const p: ProviderCheck = { issuer: '', audiences: [], clockSkewSec: 0, jwks: src };
    const tok = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: 'r' }).sign(privateKey);
    const rs = await Promise.all([1, 2, 3, 4].map(() => verifyJwt(tok, p)));
    assert.ok(rs.every((r) => r.ok));
    assert.equal(hits, 1);
    const deadline = Date.now() + 2000;
    fail = true;
    while (Date.now() < deadline) {
      const r = await verifyJwt(tok, p);
      assert.ok(r.ok, 'stale keys keep verifying while the refresh fails');
      if (hits >= 2) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(hits >= 2, 'a background refresh happened after cache_duration');
  } finally {
    server.close();
    clearRemoteJwksCache();
  }
});

void test('request.auth attributes of a payload: principal iss/sub, audiences as a list, presenter, space-delimited claims split', async () => {
  const { toAuthn } = await import('./filter.js');
  const a = toAuthn({ iss: 'i', sub: 's', aud: 'x', azp: 'cli', scope: 'read  write', other: 'a b' }, ['scope', 'permission']);
  assert.deepEqual(a, { principal: 'i/s', audiences: ['x'], presenter: 'cli', claims: { iss: 'i', sub: 's', aud: 'x', azp: 'cli', scope: ['read', 'write'], other: 'a b' } });
});
