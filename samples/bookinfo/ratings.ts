// Bookinfo ratings v1: GET/POST /ratings/<id>, as Istio's Node.js ratings service (in-memory store).
// SERVICE_VERSION=v-faulty answers 503 half the time, v-delayed delays 7 s half the time,
// v-unavailable always answers 503, like Istio's variants.
import { readBody, sendJson, startApp } from '../lib/app-server.js';

const version = process.env.SERVICE_VERSION ?? 'v1';
const userRatings = new Map<number, Record<string, number>>();

function productId(path: string): number | undefined | 'bad' {
  const m = /^\/ratings\/([^/]*)$/.exec(path);
  if (!m) return undefined;
  return /^\d+$/.test(m[1]) ? Number(m[1]) : 'bad';
}

await startApp({
  name: 'ratings',
  handler: async (req, res, url) => {
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
    const id = productId(url.pathname);
    if (id === undefined) return sendJson(res, 404, { error: 'Not found' });
    if (id === 'bad') return sendJson(res, 400, { error: 'please provide numeric product ID' });
    if (req.method === 'POST') {
      let ratings: unknown;
      try {
        ratings = JSON.parse((await readBody(req)).toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'please provide valid ratings JSON' });
      }
      if (typeof ratings !== 'object' || ratings === null || Object.values(ratings).some((v) => typeof v !== 'number')) {
        return sendJson(res, 400, { error: 'please provide valid ratings JSON' });
      }
      userRatings.set(id, ratings as Record<string, number>);
      return sendJson(res, 200, { id, ratings });
    }
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    if (version === 'v-unavailable' || (version === 'v-faulty' && Math.random() < 0.5)) {
      return sendJson(res, 503, { error: 'Service unavailable' });
    }
    if (version === 'v-delayed' && Math.random() < 0.5) await new Promise((r) => setTimeout(r, 7000));
    sendJson(res, 200, { id, ratings: userRatings.get(id) ?? { Reviewer1: 5, Reviewer2: 4 } });
  },
});
