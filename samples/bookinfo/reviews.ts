// Bookinfo reviews v1/v2/v3 in one program, like Istio's Java reviews service.
//   --version v1|v2|v3 (or SERVICE_VERSION): v1 no ratings, v2 black stars, v3 red stars.
//   ENABLE_RATINGS=true|false and STAR_COLOR override what the version implies.
// The ratings call times out after 10 s for black stars and 2.5 s otherwise (Istio's values);
// RATINGS_TIMEOUT_MS overrides.
import os from 'node:os';
import type http from 'node:http';
import { configOrExit, sendJson, startApp } from '../lib/app-server.js';
import { closeMeshConnections, meshRequest, propagatedHeaders } from '../lib/mesh-http.js';
import { envMs, serviceBaseUrl } from './upstreams.js';

function argValue(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

const version = argValue('--version') ?? process.env.SERVICE_VERSION ?? 'v1';
if (!['v1', 'v2', 'v3'].includes(version)) {
  process.stderr.write(`reviews: --version must be v1, v2 or v3, got ${JSON.stringify(version)}\n`);
  process.exit(2);
}
const ratingsEnabled = process.env.ENABLE_RATINGS !== undefined ? process.env.ENABLE_RATINGS === 'true' : version !== 'v1';
const starColor = process.env.STAR_COLOR ?? (version === 'v3' ? 'red' : 'black');
const ratingsTimeoutMs = configOrExit('reviews', () => envMs(process.env, 'RATINGS_TIMEOUT_MS', starColor === 'black' ? 10_000 : 2_500));
const ratingsBase = configOrExit('reviews', () => serviceBaseUrl('ratings'));
const podName = process.env.WEFT_WORKLOAD_NAME ?? process.env.HOSTNAME ?? os.hostname();
const clusterName = process.env.CLUSTER_NAME ?? 'null';

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

async function fetchRatings(id: string, incoming: http.IncomingHttpHeaders): Promise<Record<string, number> | undefined> {
  try {
    const res = await meshRequest(`${ratingsBase}/ratings/${id}`, {
      headers: { ...propagatedHeaders(incoming), accept: 'application/json' },
      timeoutMs: ratingsTimeoutMs,
    });
    if (res.status !== 200) {
      process.stderr.write(`reviews: ratings ${ratingsBase} answered ${res.status}\n`);
      return undefined;
    }
    const body = res.json() as { ratings?: Record<string, number> };
    return body.ratings ?? {};
  } catch (err) {
    process.stderr.write(`reviews: unable to contact ${ratingsBase}: ${(err as Error).message}\n`);
    return undefined;
  }
}

await startApp({
  name: `reviews-${version}`,
  onClose: closeMeshConnections,
  handler: async (req, res, url) => {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
    const m = /^\/reviews\/([^/]*)$/.exec(url.pathname);
    if (!m) return sendJson(res, 404, { error: 'Not found' });
    if (!/^-?\d+$/.test(m[1])) return sendJson(res, 400, { error: 'please provide numeric product id' });
    const id = String(Number(m[1]));
    const ratings = ratingsEnabled ? await fetchRatings(id, req.headers) : undefined;
    const reviews = REVIEWS.map((r) => {
      if (!ratingsEnabled) return { ...r };
      const stars = ratings?.[r.reviewer];
      return typeof stars === 'number'
        ? { ...r, rating: { stars, color: starColor } }
        : { ...r, rating: { error: 'Ratings service is currently unavailable' } };
    });
    sendJson(res, 200, { id, podname: podName, clustername: clusterName, reviews });
  },
});
