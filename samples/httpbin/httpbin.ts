// A small httpbin (the HTTP request & response service the Istio tasks use as a backend):
// /get /headers /ip /user-agent /uuid /status/<codes> /delay/<s> /anything /post /put /patch /delete
// /response-headers /stream/<n> /bytes/<n> /base64/<value>. Header names are reported Title-Case,
// as httpbin does ("X-Forwarded-Client-Cert", "X-B3-Traceid").
import { randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { readBody, sendJson, sendText, startApp } from '../lib/app-server.js';

export function titleCase(name: string): string {
  return name.split('-').map((p) => (p === '' ? p : p[0].toUpperCase() + p.slice(1).toLowerCase())).join('-');
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[titleCase(k)] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function argsOf(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    out[key] = all.length === 1 ? all[0] : all;
  }
  return out;
}

function origin(req: http.IncomingMessage): string {
  const xff = req.headers['x-forwarded-for'];
  if (typeof xff === 'string' && xff !== '') return xff;
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function fullUrl(req: http.IncomingMessage, url: URL): string {
  const proto = typeof req.headers['x-forwarded-proto'] === 'string' ? req.headers['x-forwarded-proto'] : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}${url.pathname}${url.search}`;
}

function basic(req: http.IncomingMessage, url: URL): Record<string, unknown> {
  return { args: argsOf(url), headers: headersOf(req), origin: origin(req), url: fullUrl(req, url) };
}

async function withBody(req: http.IncomingMessage, url: URL): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString('utf8');
  const type = String(req.headers['content-type'] ?? '');
  let form: Record<string, string | string[]> = {};
  let json: unknown = null;
  if (type.startsWith('application/x-www-form-urlencoded')) form = argsOf(new URL(`http://x/?${raw}`));
  else if (type.includes('json') && raw !== '') {
    try {
      json = JSON.parse(raw);
    } catch {
      json = null;
    }
  }
  const data = type.startsWith('application/x-www-form-urlencoded') ? '' : raw;
  return { args: argsOf(url), data, files: {}, form, headers: headersOf(req), json, origin: origin(req), url: fullUrl(req, url) };
}

/** Picks a code from "503", "200,503" (uniform) or "200:0.9,503:0.1" (weighted); undefined when invalid. */
export function pickStatus(spec: string, rand: () => number = Math.random): number | undefined {
  const choices: { code: number; weight: number }[] = [];
  for (const part of spec.split(',')) {
    const [c, w] = part.split(':');
    const code = Number(c);
    const weight = w === undefined ? 1 : Number(w);
    if (!Number.isInteger(code) || code < 100 || code > 599 || !(weight >= 0)) return undefined;
    choices.push({ code, weight });
  }
  const total = choices.reduce((s, c) => s + c.weight, 0);
  if (choices.length === 0 || total <= 0) return undefined;
  let r = rand() * total;
  for (const c of choices) {
    if (r < c.weight) return c.code;
    r -= c.weight;
  }
  return choices[choices.length - 1].code;
}

const INDEX = `<!DOCTYPE html><html><head><title>httpbin (Weft sample)</title></head><body>
<h1>httpbin</h1><p>HTTP request &amp; response service.</p><ul>
${['/get', '/headers', '/ip', '/user-agent', '/uuid', '/status/200', '/delay/1', '/anything', '/post', '/response-headers?freeform=', '/stream/3', '/bytes/16']
  .map((p) => `<li><a href="${p}">${p}</a></li>`).join('\n')}
</ul></body></html>
`;

const METHOD_ROUTES: Record<string, string> = { '/post': 'POST', '/put': 'PUT', '/patch': 'PATCH', '/delete': 'DELETE' };

await startApp({
  name: 'httpbin',
  handler: async (req, res, url) => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/' && method === 'GET') return sendText(res, 200, INDEX, 'text/html; charset=utf-8');
    if (path === '/get' || path === '/health') return sendJson(res, 200, basic(req, url));
    if (path === '/headers') return sendJson(res, 200, { headers: headersOf(req) });
    if (path === '/ip') return sendJson(res, 200, { origin: origin(req) });
    if (path === '/user-agent') return sendJson(res, 200, { 'user-agent': req.headers['user-agent'] ?? null });
    if (path === '/uuid') return sendJson(res, 200, { uuid: randomUUID() });
    if (path === '/anything' || path.startsWith('/anything/')) return sendJson(res, 200, { ...(await withBody(req, url)), method });
    if (METHOD_ROUTES[path]) {
      if (method !== METHOD_ROUTES[path]) return sendText(res, 405, 'Method Not Allowed\n');
      return sendJson(res, 200, await withBody(req, url));
    }
    let m = /^\/status\/([^/]+)$/.exec(path);
    if (m) {
      const code = pickStatus(decodeURIComponent(m[1]));
      if (code === undefined) return sendText(res, 400, 'Invalid status code\n');
      if (code === 418) return sendText(res, 418, '\n    -=[ teapot ]=-\n');
      const headers: Record<string, string> = { 'content-length': '0' };
      if (code >= 300 && code < 400 && code !== 304) headers.location = '/redirect/1';
      if (code === 401) headers['www-authenticate'] = 'Basic realm="Fake Realm"';
      res.writeHead(code, headers);
      return void res.end();
    }
    m = /^\/delay\/([^/]+)$/.exec(path);
    if (m) {
      const seconds = Number(m[1]);
      if (!(seconds >= 0)) return sendText(res, 400, 'delay must be a number of seconds\n');
      await new Promise((r) => setTimeout(r, Math.min(seconds, 10) * 1000));
      return sendJson(res, 200, await withBody(req, url));
    }
    if (path === '/response-headers') {
      const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json' };
      for (const [k, v] of Object.entries(argsOf(url))) headers[k] = v;
      const body = JSON.stringify(headers);
      for (const [k, v] of Object.entries(headers)) {
        try {
          res.setHeader(k, v);
        } catch {
          return sendText(res, 400, `invalid header ${JSON.stringify(k)}\n`);
        }
      }
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.writeHead(200);
      return void res.end(body);
    }
    m = /^\/stream\/(\d+)$/.exec(path);
    if (m) {
      const n = Math.min(Number(m[1]), 100);
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let id = 0; id < n; id++) res.write(`${JSON.stringify({ ...basic(req, url), id })}\n`);
      return void res.end();
    }
    m = /^\/bytes\/(\d+)$/.exec(path);
    if (m) {
      const n = Math.min(Number(m[1]), 100 * 1024);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
      return void res.end(randomBytes(n));
    }
    m = /^\/base64\/([^/]+)$/.exec(path);
    if (m) return sendText(res, 200, Buffer.from(decodeURIComponent(m[1]), 'base64url').toString('utf8'), 'text/html; charset=utf-8');
    sendText(res, 404, 'Not Found\n');
  },
});
