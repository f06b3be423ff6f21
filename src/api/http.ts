// Request body parsing (size-capped JSON) and JSON/Status responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiError, badRequest } from './status.js';
import type { Status } from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** How much past the cap is read and discarded so the client still gets its 413 on a kept-alive socket. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Reads the whole body. Past the cap the rest is drained (so the client can read the 413) and a
 * 413 Status error is thrown; an empty or unparseable body is a 400 naming the parse error.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length'] ?? 0) > maxBytes;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else if (size > maxBytes + DRAIN_LIMIT_BYTES) req.destroy(); // a client that keeps sending far past the cap is cut off
    });
    req.on('error', reject);
    req.on('end', () => {
      if (tooLarge) {
        reject(apiError(413, 'RequestEntityTooLarge', `request body is larger than the limit of ${maxBytes} bytes`));
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        reject(badRequest('request body is empty; expected a JSON object'));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(badRequest(`request body is not valid JSON: ${(err as Error).message}`));
      }
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  sendJson(res, status.code, status);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
