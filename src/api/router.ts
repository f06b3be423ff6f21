// A small route table: `/apis/weft.dev/v1/namespaces/:ns/workloads/:name`, `/debug/*rest`.
// When several patterns match a path the most specific wins (literal > :param > *rest, compared
// left to right), so routes added later by weftd override the generic resource routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest } from './status.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parses the JSON request body (size-capped); throws a 400/413 Status error. */
  body(): Promise<unknown>;
  /** Adds a `Warning: 299 - "..."` response header. */
  warn(message: string): void;
}

/**
 * A handler returns the JSON body (status 200), an ApiReply for another status or headers, or
 * nothing after writing `ctx.res` itself. Throwing an ApiError sends its Status.
 */
export type RouteHandler = (ctx: RouteContext) => unknown;

export class ApiReply {
  constructor(readonly status: number, readonly body: unknown, readonly headers: Record<string, string> = {}) {}
}

export function reply(status: number, body: unknown, headers?: Record<string, string>): ApiReply {
  return new ApiReply(status, body, headers);
}

type Segment = { type: 'literal'; value: string } | { type: 'param'; name: string } | { type: 'rest'; name: string };

interface Route {
  method: string;
  pattern: string;
  segments: Segment[];
  handler: RouteHandler;
  order: number;
}

export interface RouteMatch {
  handler: RouteHandler;
  params: Record<string, string>;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler): void {
    if (!pattern.startsWith('/')) throw new Error(`route pattern must start with "/": ${pattern}`);
    const segments = splitPath(pattern).map((s, i, all): Segment => {
      if (s.startsWith(':')) return { type: 'param', name: s.slice(1) };
      if (s.startsWith('*')) {
        if (i !== all.length - 1) throw new Error(`route pattern ${pattern}: *${s.slice(1)} must be the last segment`);
        return { type: 'rest', name: s.slice(1) };
      }
      return { type: 'literal', value: s };
    });
    this.routes.push({ method: method.toUpperCase(), pattern, segments, handler, order: this.routes.length });
  }

  /** The best route for method + path; `methodMismatch` lists allowed methods when only the method is wrong. */
  match(method: string, pathname: string): RouteMatch | { allowed: string[] } | undefined {
    const parts = splitPath(pathname).map(decodeSegment);
    const hits: { route: Route; params: Record<string, string> }[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (params) hits.push({ route, params });
    }
    if (hits.length === 0) return undefined;
    hits.sort((a, b) => compareSpecificity(a.route, b.route));
    const m = method.toUpperCase();
    const hit = hits.find((h) => h.route.method === m || (m === 'HEAD' && h.route.method === 'GET'));
    if (!hit) return { allowed: [...new Set(hits.map((h) => h.route.method))] };
    return { handler: hit.route.handler, params: hit.params };
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s.length > 0);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badRequest(`malformed percent-encoding in path segment "${s}"`);
  }
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (seg.type === 'rest') {
      params[seg.name] = parts.slice(i).join('/');
      return params;
    }
    if (i >= parts.length) return undefined;
    if (seg.type === 'literal') {
      if (seg.value !== parts[i]) return undefined;
    } else {
      params[seg.name] = parts[i];
    }
  }
  return segments.length === parts.length ? params : undefined;
}

const rank = (s: Segment | undefined): number => (s === undefined ? -1 : s.type === 'literal' ? 2 : s.type === 'param' ? 1 : 0);

function compareSpecificity(a: Route, b: Route): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = rank(b.segments[i]) - rank(a.segments[i]);
    if (d !== 0) return d;
  }
  return a.order - b.order;
}
