// Bookinfo apps as real processes on loopback, wired to each other (or to fakes) by env, no mesh.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closedPort, fakeServer, get, samplePath, startSample, type SampleProcess } from './processes.js';

const started: SampleProcess[] = [];
async function start(rel: string, env: Record<string, string> = {}, args: string[] = []): Promise<SampleProcess> {
  const p = await startSample(rel, env, args);
  started.push(p);
  return p;
}
void after(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

const countStars = (html: string): number => (html.match(/glyphicon-star"/g) ?? []).length;

void describe('bookinfo services', () => {
  let details: SampleProcess;
  let ratings: SampleProcess;
  void before(async () => {
    [details, ratings] = await Promise.all([start('bookinfo/details.js'), start('bookinfo/ratings.js')]);
  });

  void it('details answers the book details and rejects a non-numeric id', async () => {
    const r = await get(`${details.url}/details/0`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), {
      id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200,
      publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
    });
    assert.equal((await get(`${details.url}/details/abc`)).status, 400);
    assert.equal(JSON.parse((await get(`${details.url}/health`)).text).status, 'Details is healthy');
  });

  void it('ratings answers default ratings and stores posted ones', async () => {
    assert.deepEqual(JSON.parse((await get(`${ratings.url}/ratings/0`)).text), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    const post = await fetch(`${ratings.url}/ratings/7`, { method: 'POST', body: JSON.stringify({ Reviewer1: 1, Reviewer2: 2 }) });
    assert.equal(post.status, 200);
    assert.deepEqual(JSON.parse((await get(`${ratings.url}/ratings/7`)).text), { id: 7, ratings: { Reviewer1: 1, Reviewer2: 2 } });
    const bad = await fetch(`${ratings.url}/ratings/7`, { method: 'POST', body: 'nope' });
    assert.equal(bad.status, 400);
  });

  void it('reviews v1 has no ratings, v2 black stars, v3 red stars', async () => {
    const env = { RATINGS_URL: ratings.url, HOSTNAME: 'reviews-pod', CLUSTER_NAME: 'c1' };
    const [v1, v2, v3] = await Promise.all([
      start('bookinfo/reviews.js', env, ['--version', 'v1']),
      start('bookinfo/reviews.js', env, ['--version', 'v2']),
      start('bookinfo/reviews.js', { ...env, SERVICE_VERSION: 'v3' }),
    ]);
    const b1 = JSON.parse((await get(`${v1.url}/reviews/0`)).text);
    assert.equal(b1.reviews.length, 2);
    assert.equal(b1.podname, 'reviews-pod');
    assert.equal(b1.clustername, 'c1');
    assert.equal(b1.reviews[0].rating, undefined);
    const b2 = JSON.parse((await get(`${v2.url}/reviews/0`)).text);
    assert.deepEqual(b2.reviews.map((r: { rating: unknown }) => r.rating), [{ stars: 5, color: 'black' }, { stars: 4, color: 'black' }]);
    const b3 = JSON.parse((await get(`${v3.url}/reviews/0`)).text);
    assert.deepEqual(b3.reviews[0].rating, { stars: 5, color: 'red' });
  });

  void it('productpage renders details and reviews with black stars from reviews v2', async () => {
    const reviews = await start('bookinfo/reviews.js', { RATINGS_URL: ratings.url }, ['--version', 'v2']);
    const pp = await start('bookinfo/productpage.js', { DETAILS_URL: details.url, REVIEWS_HOSTNAME: '127.0.0.1', REVIEWS_SERVICE_PORT: String(reviews.port) });
    const r = await get(`${pp.url}/productpage`);
    assert.equal(r.status, 200);
    assert.match(r.text, /<title>Simple Bookstore App<\/title>/);
    assert.match(r.text, /The Comedy of Errors/);
    assert.match(r.text, /Book Details/);
    assert.match(r.text, /PublisherA/);
    assert.match(r.text, /123-1234567890/);
    assert.match(r.text, /Reviewer1/);
    assert.match(r.text, /color="black"/);
    assert.equal(countStars(r.text), 9);
    assert.deepEqual(JSON.parse((await get(`${pp.url}/api/v1/products`)).text)[0].title, 'The Comedy of Errors');
    assert.equal(JSON.parse((await get(`${pp.url}/api/v1/products/0`)).text).publisher, 'PublisherA');
    assert.equal(JSON.parse((await get(`${pp.url}/api/v1/products/0/reviews`)).text).reviews.length, 2);
    assert.match((await get(`${pp.url}/`)).text, /productpage/);
    assert.equal((await get(`${pp.url}/health`)).text, 'Product page is healthy');
  });

  void it('login sets the user cookie and end-user is forwarded with tracing headers; red stars render', async () => {
    const fakeReviews = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: '0', podname: 'fake', clustername: 'null', reviews: [{ reviewer: 'Reviewer1', text: 't', rating: { stars: 3, color: 'red' } }] }));
    });
    try {
      const pp = await start('bookinfo/productpage.js', { DETAILS_URL: details.url, REVIEWS_URL: fakeReviews.url });
      const login = await fetch(`${pp.url}/login`, {
        method: 'POST', redirect: 'manual', body: 'username=jason&passwd=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(login.status, 302);
      assert.equal(login.headers.get('location'), '/productpage');
      assert.match(login.headers.get('set-cookie') ?? '', /^user=jason;/);
      const page = await get(`${pp.url}/productpage`, { cookie: 'user=jason', 'x-request-id': 'rid-1', 'x-b3-traceid': 'abc', traceparent: 'tp', 'x-unrelated': 'no' });
      assert.match(page.text, /welcome <b>jason<\/b>/);
      assert.match(page.text, /color="red"/);
      assert.equal(countStars(page.text), 3);
      const seen = fakeReviews.requests.at(-1);
      assert.equal(seen?.url, '/reviews/0');
      assert.equal(seen?.headers['end-user'], 'jason');
      assert.equal(seen?.headers['x-request-id'], 'rid-1');
      assert.equal(seen?.headers['x-b3-traceid'], 'abc');
      assert.equal(seen?.headers.traceparent, 'tp');
      assert.equal(seen?.headers['x-unrelated'], undefined);
      const anon = fakeReviews.requests.length;
      await get(`${pp.url}/productpage`);
      assert.equal(fakeReviews.requests[anon]?.headers['end-user'], undefined);
      const logout = await get(`${pp.url}/logout`, { cookie: 'user=jason' });
      assert.equal(logout.status, 302);
      assert.match(logout.headers.get('set-cookie') ?? '', /user=;.*Max-Age=0/);
    } finally {
      await fakeReviews.close();
    }
  });

  void it('a hanging ratings service shows "Ratings service is currently unavailable" within the timeout', async () => {
    const hanging = await fakeServer(() => undefined);
    try {
      const reviews = await start('bookinfo/reviews.js', { RATINGS_URL: hanging.url, RATINGS_TIMEOUT_MS: '500' }, ['--version', 'v3']);
      const pp = await start('bookinfo/productpage.js', { DETAILS_URL: details.url, REVIEWS_URL: reviews.url });
      const t0 = Date.now();
      const r = await get(`${pp.url}/productpage`);
      const elapsed = Date.now() - t0;
      assert.match(r.text, /Ratings service is currently unavailable/);
      assert.equal(countStars(r.text), 0);
      assert.ok(elapsed >= 450 && elapsed < 2500, `took ${elapsed} ms`);
    } finally {
      await hanging.close();
    }
  });

  void it('shows the error messages when details and reviews are down, and exits 0 on SIGTERM', async () => {
    const dead = await closedPort();
    const pp = await start('bookinfo/productpage.js', { DETAILS_URL: `http://127.0.0.1:${dead}`, REVIEWS_URL: `http://127.0.0.1:${dead}` });
    const r = await get(`${pp.url}/productpage`);
    assert.equal(r.status, 200);
    assert.match(r.text, /Error fetching product details!/);
    assert.match(r.text, /Sorry, product details are currently unavailable for this book\./);
    assert.match(r.text, /Sorry, product reviews are currently unavailable for this book\./);
    assert.equal((await get(`${pp.url}/api/v1/products/0`)).status, 500);
    assert.match(pp.output(), /GET \/productpage 200/);
    assert.equal(await pp.stop(), 0);
  });

  void it('bad configuration ends the process with a message naming the setting', () => {
    const run = (script: string, env: Record<string, string>) =>
      spawnSync(process.execPath, [samplePath(script)], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 8000 });
    const pp = run('bookinfo/productpage.js', { PORT: '0', UPSTREAM_TIMEOUT_MS: 'soon' });
    assert.equal(pp.status, 2);
    assert.match(pp.stderr, /UPSTREAM_TIMEOUT_MS: expected milliseconds, got "soon"/);
    const noPort = run('bookinfo/details.js', {});
    assert.equal(noPort.status, 2);
    assert.match(noPort.stderr, /PORT must be a port number/);
    const badVersion = run('bookinfo/reviews.js', { PORT: '0', SERVICE_VERSION: 'v9' });
    assert.equal(badVersion.status, 2);
    assert.match(badVersion.stderr, /--version must be v1, v2 or v3/);
  });
});
