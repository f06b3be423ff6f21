// The config API server (node:http): a route table with the Kubernetes-style resource routes, the
// apply endpoint, /healthz and /readyz. weftd adds its own routes with `route()`.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigStore } from '../store/types.js';
import { registerApplyRoute } from './apply.js';
import { DEFAULT_MAX_BODY_BYTES, readJsonBody, sendJson, sendStatus, sendText } from './http.js';
import type { Analyze, Validate } from './objects.js';
import { registerResourceRoutes } from './resources.js';
import { ApiReply, Router, type RouteContext, type RouteHandler } from './router.js';
import { ApiError, statusOf, warningHeader } from './status.js';
import { StoreUnavailableError } from '../store/types.js';
import { redactSecrets } from './secrets.js';

export interface ApiServerOptions {
  store: ConfigStore;
  /** Per-object validation (src/config's validateResource); errors -> 422, warnings -> Warning headers. */
  validate: Validate;
  /** Cross-resource analysis for /apply (src/config's analyze). */
  analyze?: Analyze;
  /** Return false to answer 401. Not consulted for /healthz and /readyz. */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** /readyz answers 200 when this returns true (default: always ready). */
  ready?: () => boolean | Promise<boolean>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port; read it from `url`). */
  port?: number;
  /** Request body cap (default 16 MiB); larger bodies get 413. */
  maxBodyBytes?: number;
}

export interface ApiServer {
  server: Server;
  /** e.g. `http://127.0.0.1:15014` */
  url: string;
  /** Adds a route; `:name` captures one path segment, a final `*name` the rest. More specific patterns win. */
  route(method: string, pattern: string, handler: RouteHandler): void;
  /** Stops listening and drops open connections. Does not close the store. */
  close(): Promise<void>;
}

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/livez']);

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const router = new Router();
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  registerResourceRoutes(router, { store: opts.store, validate: opts.validate });
  registerApplyRoute(router, { store: opts.store, validate: opts.validate, analyze: opts.analyze });
  router.add('GET', '/healthz', () => text(200, 'ok'));
  router.add('GET', '/livez', () => text(200, 'ok'));
  router.add('GET', '/readyz', async () => ((await (opts.ready?.() ?? true)) ? text(200, 'ok') : text(503, 'not ready')));

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Last resort: the handler's own error path failed (e.g. the socket is gone). Never crash.
      if (!res.headersSent) sendStatus(res, statusOf(500, 'InternalError', `internal error: ${(err as Error).message}`));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendStatus(res, statusOf(400, 'BadRequest', `malformed request target ${req.url}`));
      return;
    }
    try {
      if (opts.authorize && !OPEN_PATHS.has(url.pathname) && !(await opts.authorize(req))) {
        req.resume();
        throw new ApiError(statusOf(401, 'Unauthorized', 'Unauthorized: a valid bearer token is required'));
      }
      const match = router.match(method, url.pathname);
      if (!match) throw new ApiError(statusOf(404, 'NotFound', `the server could not find the requested resource (${method} ${url.pathname})`));
      if ('allowed' in match) {
        res.setHeader('allow', match.allowed.join(', '));
        throw new ApiError(statusOf(405, 'MethodNotAllowed', `${method} is not supported on ${url.pathname} (allowed: ${match.allowed.join(', ')})`));
      }
      const warnings: string[] = [];
      const ctx: RouteContext = {
        req, res, method, url, params: match.params, query: url.searchParams,
        body: () => readJsonBody(req, maxBody),
        warn: (message) => {
          warnings.push(warningHeader(message));
          if (!res.headersSent) res.setHeader('warning', warnings);
        },
      };
      const out = await match.handler(ctx);
      if (res.writableEnded || res.headersSent) return;
      if (out instanceof TextReply) sendText(res, out.status, out.text);
      else if (out instanceof ApiReply) sendJson(res, out.status, redactSecrets(out.body), out.headers);
      else if (out === undefined) sendJson(res, 200, {});
      else sendJson(res, 200, redactSecrets(out));
    } catch (err) {
      if (err instanceof ApiError) sendStatus(res, err.status);
      else if (err instanceof StoreUnavailableError) sendStatus(res, statusOf(503, 'ServiceUnavailable', err.message));
      else sendStatus(res, statusOf(500, 'InternalError', `internal error: ${(err as Error).message ?? String(err)}`));
    }
  }

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    server,
    url,
    route: (method, pattern, handler) => router.add(method, pattern, handler),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

class TextReply {
  constructor(readonly status: number, readonly text: string) {}
}

const text = (status: number, body: string): TextReply => new TextReply(status, `${body}\n`);
