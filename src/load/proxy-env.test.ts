import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesNoProxy, parseProxySetting, proxyForUrl } from './proxy-env.js';

void describe('proxy-env', () => {
  void it('parses proxy settings with and without scheme', () => {
    assert.deepEqual(parseProxySetting('http://127.0.0.5:15001'), { host: '127.0.0.5', port: 15001 });
    assert.deepEqual(parseProxySetting('127.0.0.5:15001'), { host: '127.0.0.5', port: 15001 });
    assert.throws(() => parseProxySetting('https://x:1'), /only http/);
  });

  void it('matches NO_PROXY like curl', () => {
    assert.equal(matchesNoProxy('*', 'anything', 80), true);
    assert.equal(matchesNoProxy('reviews, .svc.cluster.local', 'reviews', 9080), true);
    assert.equal(matchesNoProxy('.svc.cluster.local', 'ratings.default.svc.cluster.local', 9080), true);
    assert.equal(matchesNoProxy('example.com', 'api.example.com', 80), true);
    assert.equal(matchesNoProxy('example.com', 'badexample.com', 80), false);
    assert.equal(matchesNoProxy('127.0.0.1:9090', '127.0.0.1', 9080), false);
    assert.equal(matchesNoProxy('127.0.0.1:9080', '127.0.0.1', 9080), true);
  });

  void it('picks the proxy only for http URLs not excluded', () => {
    const env = { HTTP_PROXY: 'http://127.0.0.9:15001', NO_PROXY: 'localhost' };
    assert.deepEqual(proxyForUrl(new URL('http://ratings:9080/'), env), { host: '127.0.0.9', port: 15001 });
    assert.equal(proxyForUrl(new URL('http://localhost:9080/'), env), undefined);
    assert.equal(proxyForUrl(new URL('https://ratings/'), env), undefined);
    assert.equal(proxyForUrl(new URL('http://ratings/'), {}), undefined);
    assert.deepEqual(proxyForUrl(new URL('http://ratings/'), { http_proxy: '127.0.0.2:3128' }), { host: '127.0.0.2', port: 3128 });
  });
});
