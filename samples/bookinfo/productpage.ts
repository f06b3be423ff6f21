// Bookinfo productpage, like Istio's Python productpage: renders the book page from details and
// reviews, keeps the signed-in user in the `user` cookie and sends it upstream as `end-user`,
// and propagates tracing headers. Upstream calls time out after 3 s (UPSTREAM_TIMEOUT_MS) and the
// reviews call is tried twice, as Istio's productpage does on purpose for the fault-injection task.
import type http from 'node:http';
import { configOrExit, readBody, sendJson, sendText, startApp } from '../lib/app-server.js';
import { closeMeshConnections, meshRequest, propagatedHeaders } from '../lib/mesh-http.js';
import { renderIndex, renderProductPage, type PageData, type Product } from './productpage-view.js';
import { envMs, serviceBaseUrl } from './upstreams.js';

const { detailsBase, reviewsBase, ratingsBase, timeoutMs } = configOrExit('productpage', () => ({
  detailsBase: serviceBaseUrl('details'),
  reviewsBase: serviceBaseUrl('reviews'),
  ratingsBase: serviceBaseUrl('ratings'),
  timeoutMs: envMs(process.env, 'UPSTREAM_TIMEOUT_MS', 3000),
}));

// Forwarded as Istio's productpage does; `end-user` comes from the session, not from the client.
const FORWARDED = [
  'x-request-id', 'x-ot-span-context', 'x-datadog-trace-id', 'x-datadog-parent-id', 'x-datadog-sampling-priority',
  'traceparent', 'tracestate', 'x-cloud-trace-context', 'grpc-trace-bin',
  'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3',
  'sw8', 'user-agent', 'cookie', 'authorization', 'jwt',
];

const PRODUCTS: Product[] = [
  {
    id: 0,
    title: 'The Comedy of Errors',
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return part.slice(eq + 1).trim();
      }
    }
  }
  return undefined;
}

function forwardHeaders(req: http.IncomingMessage): Record<string, string> {
  const headers = propagatedHeaders(req.headers, FORWARDED);
  const user = cookieValue(req.headers.cookie, 'user');
  if (user) headers['end-user'] = user;
  return headers;
}

type Upstream = { status: number; body: Record<string, unknown> };

async function callJson(url: string, headers: Record<string, string>): Promise<Upstream | undefined> {
  try {
    const res = await meshRequest(url, { headers, timeoutMs });
    if (res.status !== 200) return { status: res.status, body: {} };
    return { status: 200, body: res.json() as Record<string, unknown> };
  } catch (err) {
    process.stderr.write(`productpage: ${(err as Error).message}\n`);
    return undefined;
  }
}

function orError(r: Upstream | undefined, what: string): Upstream {
  if (r && r.status === 200) return r;
  return { status: r && r.status ? r.status : 500, body: { error: `Sorry, product ${what} are currently unavailable for this book.` } };
}

const getDetails = async (id: string, h: Record<string, string>): Promise<Upstream> =>
  orError(await callJson(`${detailsBase}/details/${id}`, h), 'details');

const getRatings = async (id: string, h: Record<string, string>): Promise<Upstream> =>
  orError(await callJson(`${ratingsBase}/ratings/${id}`, h), 'ratings');

async function getReviews(id: string, h: Record<string, string>): Promise<Upstream> {
  let last: Upstream | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    last = await callJson(`${reviewsBase}/reviews/${id}`, h);
    if (last?.status === 200) return last;
  }
  return orError(last, 'reviews');
}

function redirect(res: http.ServerResponse, location: string, cookie: string): void {
  res.writeHead(302, { location, 'set-cookie': cookie, 'content-type': 'text/html; charset=utf-8', 'content-length': 0 });
  res.end();
}

function redirectTarget(req: http.IncomingMessage): string {
  const ref = req.headers.referer;
  try {
    if (ref) return new URL(ref).pathname.startsWith('/productpage') ? ref : '/productpage';
  } catch {
    // fall through to the default
  }
  return '/productpage';
}

await startApp({
  name: 'productpage',
  onClose: closeMeshConnections,
  handler: async (req, res, url) => {
    const path = url.pathname;
    if (req.method === 'POST' && path === '/login') {
      const form = new URLSearchParams((await readBody(req)).toString('utf8'));
      const user = (form.get('username') ?? url.searchParams.get('username') ?? '').trim();
      if (!user || !/^[\w.@-]{1,64}$/.test(user)) return sendText(res, 400, 'login: form field "username" is required (letters, digits, . _ @ -)\n');
      return redirect(res, redirectTarget(req), `user=${user}; Path=/`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
    if (path === '/logout') return redirect(res, redirectTarget(req), 'user=; Path=/; Max-Age=0');
    if (path === '/health') return sendText(res, 200, 'Product page is healthy');
    if (path === '/' || path === '/index.html') {
      return sendText(res, 200, renderIndex([
        { name: detailsBase, endpoint: 'details' },
        { name: reviewsBase, endpoint: 'reviews' },
        { name: ratingsBase, endpoint: 'ratings' },
      ]), 'text/html; charset=utf-8');
    }
    if (path === '/productpage') {
      const headers = forwardHeaders(req);
      const [details, reviews] = [await getDetails('0', headers), await getReviews('0', headers)];
      const data: PageData = {
        product: PRODUCTS[0],
        user: cookieValue(req.headers.cookie, 'user') ?? '',
        detailsStatus: details.status,
        details: details.body,
        reviewsStatus: reviews.status,
        reviews: reviews.body,
      };
      return sendText(res, 200, renderProductPage(data), 'text/html; charset=utf-8');
    }
    if (path === '/api/v1/products') return sendJson(res, 200, PRODUCTS);
    const m = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?$/.exec(path);
    if (m) {
      const id = encodeURIComponent(decodeURIComponent(m[1]));
      const headers = forwardHeaders(req);
      const r = m[2] === 'reviews' ? await getReviews(id, headers) : m[2] === 'ratings' ? await getRatings(id, headers) : await getDetails(id, headers);
      return sendJson(res, r.status, r.body);
    }
    sendText(res, 404, 'Not Found\n');
  },
});
