// The ext_authz HTTP filter (HTTP service): asks the authorizer with a copy of the request's method,
// path (after path_prefix) and allowed headers, no body. A 200 allows the request (allowed
// authorizer headers are set on the upstream request); any other status is the answer the client
// gets (status, body, allowed headers); an unreachable or slow authorizer is status_on_error (403),
// or allowed with failure_mode_allow. Flag UAEX in the access log, as Envoy.
import http from 'node:http';
import type { Stream } from '../../hcm/stream.js';
import type { Headers } from '../../router/headers.js';
import type { HttpFilter, HttpFilterContext, FilterStatus } from '../types.js';
import { pickEndpoint } from '../router/filter.js';
import { dynamicMetadata } from '../dynamic-metadata.js';
import type { ExtAuthzConfig } from './config.js';

const FILTER_NAME = 'envoy.filters.http.ext_authz';
const MAX_BODY = 64 * 1024;
/** Sent whatever allowed_headers says (Envoy: Host, Method, Path, Content-Length and Authorization). */
const ALWAYS = new Set(['authorization', 'host']);
/** Never copied from the authorizer's answer to the client by default. */
const NOT_TO_CLIENT = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server']);
/** Added to allowed_client_headers whenever that list is set (as Envoy does). */
const CLIENT_ALWAYS = new Set(['www-authenticate', 'location', 'content-type']);

interface CheckResult { status: number; headers: http.IncomingHttpHeaders; body: string }

const joined = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);

function counters(ctx: HttpFilterContext): Record<string, number> {
  const s = ctx as Stream;
  return s.env?.stats.group(`http.${s.hcm?.statPrefix ?? ''}.ext_authz`) ?? {};
}

function bump(c: Record<string, number>, k: string): void {
  c[k] = (c[k] ?? 0) + 1;
}

export class ExtAuthzFilter implements HttpFilter {
  private successHeaders: Headers | null = null;

  constructor(private readonly config: ExtAuthzConfig) {}

  private enabled(ctx: HttpFilterContext): boolean {
    const perRoute = ctx.perFilterConfig(FILTER_NAME) as { disabled?: boolean } | undefined;
    if (perRoute?.disabled) return false;
    const m = this.config.enabledMetadata;
    if (!m) return true;
    const v = dynamicMetadata(ctx, m.filter, m.path);
    const hit = m.matches ? typeof v === 'string' && m.matches(v) : v !== undefined;
    return hit !== m.invert;
  }

  onRequestHeaders(ctx: HttpFilterContext): FilterStatus | Promise<FilterStatus> {
    if (!this.enabled(ctx)) return 'continue';
    return this.check(ctx).then((r) => this.decide(ctx, r), (e: unknown) => this.failed(ctx, e instanceof Error ? e.message : String(e)));
  }

  onResponseHeaders(_ctx: HttpFilterContext, _status: number, headers: Headers): void {
    if (this.successHeaders) for (const [k, v] of Object.entries(this.successHeaders)) headers[k] = v;
  }

  private checkHeaders(ctx: HttpFilterContext): Record<string, string> {
    const c = this.config;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.requestHeaders)) {
      if (v === undefined || k.startsWith(':')) continue;
      if (ALWAYS.has(k) || c.allowedHeaders?.(k)) out[k] = joined(v) ?? '';
    }
    out.host = ctx.view.authority || out.host || c.authority;
    for (const h of c.headersToAdd) out[h.key] = h.value;
    out['content-length'] = '0'; // the body is not sent (with_request_body is not supported)
    return out;
  }

  private check(ctx: HttpFilterContext): Promise<CheckResult> {
    const c = this.config;
    const s = ctx as Stream;
    const cluster = s.env.clusters.slot(c.cluster).current;
    if (!cluster) return Promise.reject(new Error(`cluster ${c.cluster} not found`));
    const ep = pickEndpoint(cluster, c.authority);
    if (!ep) return Promise.reject(new Error(`no healthy endpoint in ${c.cluster}`));
    return new Promise<CheckResult>((resolve, reject) => {
      const req = http.request({
        host: ep.host, port: ep.port, agent: ep.httpAgent(), method: ctx.view.method, path: c.pathPrefix + ctx.view.path, headers: this.checkHeaders(ctx),
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (b: Buffer) => {
          size += b.length;
          if (size <= MAX_BODY) chunks.push(b);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => { clearTimeout(timer); reject(e); });
      });
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
      req.on('error', (e) => { clearTimeout(timer); reject(e); });
      req.end();
    });
  }

  private decide(ctx: HttpFilterContext, r: CheckResult): FilterStatus {
    const c = this.config;
    const stats = counters(ctx);
    if (r.status === 200) {
      bump(stats, 'ok');
      for (const [k, v] of Object.entries(r.headers)) {
        if (v === undefined) continue;
        if (c.upstreamHeaders?.(k)) ctx.requestHeaders[k] = v;
        else if (c.upstreamHeadersToAppend?.(k)) {
          const cur = ctx.requestHeaders[k];
          ctx.requestHeaders[k] = cur === undefined ? v : [...(Array.isArray(cur) ? cur : [cur]), ...(Array.isArray(v) ? v : [v])];
        }
        if (c.clientHeadersOnSuccess?.(k)) (this.successHeaders ??= {})[k] = v;
      }
      return 'continue';
    }
    bump(stats, 'denied');
    const headers: Headers = {};
    for (const [k, v] of Object.entries(r.headers)) {
      if (v === undefined || k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue;
      if (c.clientHeaders ? c.clientHeaders(k) || CLIENT_ALWAYS.has(k) : !NOT_TO_CLIENT.has(k)) headers[k] = v;
    }
    ctx.responseCodeDetails = 'ext_authz_denied';
    (ctx as Stream).env?.log.warn(`ext_authz: ${ctx.view.method} ${ctx.view.authority}${ctx.view.pathOnly} denied by ${c.cluster} with ${r.status} (request id ${ctx.requestId || '-'})`);
    ctx.sendLocalReply(r.status >= 200 && r.status <= 599 ? r.status : 403, r.body, 'UAEX', headers);
    return 'stop';
  }

  private failed(ctx: HttpFilterContext, why: string): FilterStatus {
    const c = this.config;
    bump(counters(ctx), 'error');
    const s = ctx as Stream;
    if (c.failureModeAllow) {
      bump(counters(ctx), 'failure_mode_allowed');
      s.env?.log.warn(`ext_authz: ${c.cluster} failed (${why}); allowed (failure_mode_allow)`);
      return 'continue';
    }
    s.env?.log.warn(`ext_authz: ${c.cluster} failed (${why}); answering ${c.statusOnError}`);
    ctx.responseCodeDetails = 'ext_authz_error';
    ctx.sendLocalReply(c.statusOnError, '', 'UAEX');
    return 'stop';
  }
}
