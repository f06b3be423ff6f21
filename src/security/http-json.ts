// A small JSON-over-HTTP client for the sidecar's start (trust bundle, CSR). node:http rather than
// fetch: fetch's first call loads undici, ~20-30 ms of CPU before the sidecar can be ready.
import http from 'node:http';
import https from 'node:https';

export interface JsonResponse {
  status: number;
  ok: boolean;
  /** The parsed body; `{}` when it is not JSON. */
  body: Record<string, unknown>;
}

const MAX_BODY = 4 * 1024 * 1024;

export function requestJson(url: string, o: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs: number }): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    if (payload) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, { method: o.method ?? 'GET', headers, timeout: o.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) { req.destroy(new Error(`${url}: response larger than ${MAX_BODY} bytes`)); return; }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
        } catch { /* not JSON: the status says what happened */ }
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${o.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
