// The small HTTP server shell every sample shares: listens on HOST (default 127.0.0.1) and PORT
// (required), logs one line per request, answers 500 instead of crashing on handler errors, and
// shuts down cleanly on SIGTERM/SIGINT.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void | Promise<void>;

export interface AppOptions {
  name: string;
  handler: Handler;
  env?: Record<string, string | undefined>;
  /** Called after the server stopped (e.g. to close outbound connections). */
  onClose?: () => void;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`request body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Reads PORT (required) and HOST from the environment; exits with a clear message when PORT is bad. */
export function listenAddress(name: string, env: Record<string, string | undefined> = process.env): { host: string; port: number } {
  const host = env.HOST ?? '127.0.0.1';
  const raw = env.PORT;
  const port = raw === undefined ? NaN : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`${name}: environment variable PORT must be a port number (0-65535), got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return { host, port };
}

/** Starts the app; resolves with the bound server once listening. */
export function startApp(opts: AppOptions): Promise<http.Server> {
  const { host, port } = listenAddress(opts.name, opts.env);
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      process.stdout.write(`${new Date().toISOString()} ${opts.name} ${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(1)}ms\n`);
    });
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendText(res, 400, 'bad request target\n');
      return;
    }
    Promise.resolve()
      .then(() => opts.handler(req, res, url))
      .catch((err: unknown) => {
        process.stderr.write(`${opts.name}: error handling ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}\n`);
        if (!res.headersSent) sendText(res, 500, 'internal error\n');
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 65_000;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${opts.name}: ${signal} received, shutting down\n`);
    server.close(() => {
      opts.onClose?.();
      process.exit(0);
    });
    server.closeIdleConnections();
    // Connections still busy after a grace period are cut so shutdown always finishes.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      process.stderr.write(`${opts.name}: cannot listen on ${host}:${port}: ${err.message}\n`);
      reject(err);
      process.exit(1);
    });
    server.listen(port, host, () => {
      const addr = server.address() as AddressInfo;
      process.stdout.write(`${opts.name} listening on ${addr.address}:${addr.port}\n`);
      resolve(server);
    });
  });
}

/** Evaluates start-up configuration; a bad setting ends the process with its message, not a stack trace. */
export function configOrExit<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    process.stderr.write(`${name}: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
