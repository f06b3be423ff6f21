// What route matching sees of a request. Built once per request by the HTTP connection manager.
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestView {
  method: string;
  /** Host/:authority, lower-cased, port kept. */
  authority: string;
  /** :path as received (path + query). */
  path: string;
  /** :path without the query string. */
  pathOnly: string;
  scheme: string;
  headers: IncomingHttpHeaders;
  /** Parsed query, made on first use by a query_parameters matcher. */
  query?: URLSearchParams;
}

export function headerValue(req: RequestView, name: string): string | undefined {
  switch (name) {
    case ':method':
      return req.method;
    case ':authority':
    case 'host':
      return req.authority;
    case ':path':
      return req.path;
    case ':scheme':
      return req.scheme;
    default: {
      const v = req.headers[name];
      if (v === undefined) return undefined;
      return Array.isArray(v) ? v.join(',') : v;
    }
  }
}

export function queryOf(req: RequestView): URLSearchParams {
  if (!req.query) {
    const q = req.path.indexOf('?');
    req.query = new URLSearchParams(q < 0 ? '' : req.path.slice(q + 1));
  }
  return req.query;
}
