import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestJson } from './http-json.js';

async function server(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }) };
}

test('requestJson: posts JSON with headers and parses the answer; non-JSON bodies and errors keep their status', async () => {
  const s = await server((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/text') { res.writeHead(503); res.end('busy'); return; }
      res.writeHead(req.headers.authorization === 'Bearer t' ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], got: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
  });
  try {
    const ok = await requestJson(`${s.url}/x`, { method: 'POST', body: { a: 1 }, headers: { authorization: 'Bearer t' }, timeoutMs: 5000 });
    assert.deepEqual(ok, { status: 200, ok: true, body: { method: 'POST', type: 'application/json', got: { a: 1 } } });
    const refused = await requestJson(`${s.url}/x`, { method: 'POST', body: {}, timeoutMs: 5000 });
    assert.equal(refused.status, 401);
    assert.equal(refused.ok, false);
    assert.deepEqual(await requestJson(`${s.url}/text`, { timeoutMs: 5000 }), { status: 503, ok: false, body: {} });
  } finally { await s.close(); }
});

test('requestJson: a server that never answers fails after the timeout; a refused connection fails at once', async () => {
  const s = await server(() => { /* never answers */ });
  try {
    await assert.rejects(requestJson(`${s.url}/`, { timeoutMs: 200 }), /no answer within 200 ms/);
  } finally { await s.close(); }
  await assert.rejects(requestJson(s.url, { timeoutMs: 5000 }), /ECONNREFUSED/);
});

test('requestJson: an oversized answer is cut off with an error', async () => {
  const s = await server((_req, res) => { res.writeHead(200); res.end(Buffer.alloc(5 * 1024 * 1024, 0x20)); });
  try {
    await assert.rejects(requestJson(`${s.url}/`, { timeoutMs: 5000 }), /larger than/);
  } finally { await s.close(); }
});
