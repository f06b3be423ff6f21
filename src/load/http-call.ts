// One HTTP call for the load generator: direct, or absolute-form through the HTTP_PROXY sidecar.
import http from 'node:http';
import type { ErrorKind } from './types.js';
import type { ProxyTarget } from './proxy-env.js';

export interface CallSpec {
  url: URL;
  proxy?: ProxyTarget;
  method: string;
  headers: [string, string][];
  payload?: Buffer;
  timeoutMs: number;
}

export interface CallOutcome {
  status: number;
  statusMessage: string;
  httpVersion: string;
  rawHeaders: string[];
  headerBytes: number;
  body: Buffer;
}

export class CallError extends Error {
  constructor(message: string, readonly kind: ErrorKind) {
    super(message);
    this.name = 'CallError';
  }
}

export function classifyError(err: NodeJS.ErrnoException): ErrorKind {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns failure';
    default:
      return /socket hang up|aborted/i.test(err.message) ? 'connection reset' : 'other';
  }
}

function requestOptions(spec: CallSpec, agent: http.Agent | undefined): http.RequestOptions {
  const headers: http.OutgoingHttpHeaders = {};
  let hasHost = false;
  let hasUa = false;
  for (const [k, v] of spec.headers) {
    const lk = k.toLowerCase();
    if (lk === 'host') hasHost = true;
    if (lk === 'user-agent') hasUa = true;
    const prev = headers[k];
    headers[k] = prev === undefined ? v : `${String(prev)}, ${v}`;
  }
  if (!hasHost) headers.Host = spec.url.host;
  if (!hasUa) headers['User-Agent'] = 'weft-load/0.1';
  if (spec.payload !== undefined) headers['Content-Length'] = spec.payload.length;
  const target = spec.proxy
    ? { host: spec.proxy.host, port: spec.proxy.port, path: spec.url.href }
    : { host: spec.url.hostname.replace(/^\[|\]$/g, ''), port: spec.url.port === '' ? 80 : Number(spec.url.port), path: `${spec.url.pathname}${spec.url.search}` };
  return { ...target, method: spec.method, headers, agent, setHost: false };
}

/** Performs one call; `onSocket` sees every socket used (to count connections). Never throws synchronously. */
export function call(spec: CallSpec, agent: http.Agent | undefined, onSocket?: (s: unknown) => void): Promise<CallOutcome> {
  return new Promise((resolve, reject) => {
    let done = false;
    let req: http.ClientRequest | undefined;
    const finish = (err: CallError | undefined, out?: CallOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req?.destroy();
        reject(err);
      } else if (out) {
        resolve(out);
      }
    };
    const timer = setTimeout(() => finish(new CallError(`timeout after ${spec.timeoutMs} ms`, 'timeout')), spec.timeoutMs);
    try {
      req = http.request(requestOptions(spec, agent), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e: NodeJS.ErrnoException) => finish(new CallError(e.message, classifyError(e))));
        res.on('aborted', () => finish(new CallError('response aborted', 'connection reset')));
        res.on('end', () => {
          const statusLine = `HTTP/${res.httpVersion} ${res.statusCode ?? 0} ${res.statusMessage ?? ''}\r\n`;
          let headerBytes = statusLine.length + 2;
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headerBytes += res.rawHeaders[i].length + res.rawHeaders[i + 1].length + 4;
          finish(undefined, {
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            httpVersion: res.httpVersion,
            rawHeaders: res.rawHeaders,
            headerBytes,
            body: Buffer.concat(chunks),
          });
        });
      });
      if (onSocket) req.on('socket', onSocket);
      req.on('error', (e: NodeJS.ErrnoException) => finish(new CallError(e.message, classifyError(e))));
      req.end(spec.payload);
    } catch (e) {
      finish(new CallError((e as Error).message, 'other'));
    }
  });
}
