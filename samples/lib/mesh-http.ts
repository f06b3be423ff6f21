// Outbound HTTP for the sample apps. Node's http and fetch ignore HTTP_PROXY, so when it is set (and
// the host is not in NO_PROXY) requests go to the proxy (the Weft sidecar) in absolute form:
//   GET http://reviews:9080/reviews/0 HTTP/1.1   with   Host: reviews:9080
// over a keep-alive connection; otherwise straight to the host. Every call has a timeout.
import http from 'node:http';
import { proxyForUrl } from '../../src/load/proxy-env.js';

export interface MeshRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole-request deadline (connect + response body), milliseconds. Default 3000. */
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
}

export interface MeshResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export class MeshHttpError extends Error {
  constructor(message: string, readonly kind: 'timeout' | 'network') {
    super(message);
    this.name = 'MeshHttpError';
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000 });

/** Closes the keep-alive connections so a process can exit promptly. */
export function closeMeshConnections(): void {
  agent.destroy();
}

export async function meshRequest(target: string | URL, opts: MeshRequestOptions = {}): Promise<MeshResponse> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3000);
  try {
    return await attempt(target, opts, deadline);
  } catch (err) {
    // A keep-alive connection the peer closed just as we reused it: retry an idempotent request once
    // on a fresh connection (the race Node's docs describe for req.reusedSocket).
    const method = (opts.method ?? 'GET').toUpperCase();
    if (err instanceof StaleSocketError && (method === 'GET' || method === 'HEAD') && Date.now() < deadline) {
      return attempt(target, opts, deadline);
    }
    throw err instanceof StaleSocketError ? err.original : err;
  }
}

class StaleSocketError extends Error {
  constructor(readonly original: MeshHttpError) {
    super(original.message);
  }
}

function attempt(target: string | URL, opts: MeshRequestOptions, deadline: number): Promise<MeshResponse> {
  const url = typeof target === 'string' ? new URL(target) : target;
  if (url.protocol !== 'http:') return Promise.reject(new Error(`mesh-http: only http:// URLs are supported, got ${url.href}`));
  const proxy = proxyForUrl(url, opts.env ?? process.env);
  const timeoutMs = Math.max(1, deadline - Date.now());
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host')) headers.host = url.host;
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  const reqOpts: http.RequestOptions = proxy
    ? { host: proxy.host, port: proxy.port, path: url.href, method: opts.method ?? 'GET', headers, agent }
    : { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 80 : Number(url.port), path: `${url.pathname}${url.search}`, method: opts.method ?? 'GET', headers, agent };

  return new Promise<MeshResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new MeshHttpError(`timeout after ${opts.timeoutMs ?? 3000} ms calling ${url.href}`, 'timeout')), timeoutMs);
    const req = http.request(reqOpts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => fail(new MeshHttpError(`${url.href}: ${e.message}`, 'network')));
      res.on('aborted', () => fail(new MeshHttpError(`${url.href}: response aborted`, 'network')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')) as unknown,
        });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      const error = new MeshHttpError(`${url.href}: ${e.message}`, 'network');
      const stale = req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE' || /socket hang up/.test(e.message));
      fail(stale ? new StaleSocketError(error) : error);
    });
    req.end(opts.body);
  });
}

/** Headers Istio's Bookinfo apps propagate (tracing, identity, session), lower-case. */
export const PROPAGATED_HEADERS: readonly string[] = [
  'x-request-id',
  'x-ot-span-context',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'traceparent',
  'tracestate',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'sw8',
  'end-user',
  'user-agent',
  'cookie',
  'authorization',
  'jwt',
];

/** Copies the propagated headers present on an incoming request. */
export function propagatedHeaders(incoming: http.IncomingHttpHeaders, names: readonly string[] = PROPAGATED_HEADERS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = incoming[name];
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.join(', ');
  }
  return out;
}
