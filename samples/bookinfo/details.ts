// Bookinfo details v1: GET /details/<id> -> the book's details, as Istio's Ruby details service.
import { sendJson, startApp } from '../lib/app-server.js';

export function bookDetails(id: number): Record<string, unknown> {
  return {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
}

await startApp({
  name: 'details',
  handler: (req, res, url) => {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
    const m = /^\/details\/([^/]*)$/.exec(url.pathname);
    if (!m) return sendJson(res, 404, { error: 'Not found' });
    if (!/^-?\d+$/.test(m[1])) return sendJson(res, 400, { error: 'please provide numeric product id' });
    sendJson(res, 200, bookDetails(Number(m[1])));
  },
});
