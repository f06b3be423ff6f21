// CORS as Envoy does it: a preflight (OPTIONS + Origin + Access-Control-Request-Method) from an
// allowed origin is answered here with 200 and the allow-* headers; other requests from an allowed
// origin get access-control-allow-origin (and credentials / expose headers) on the response.
// Stats: http.<prefix>.cors.{origin_valid,origin_invalid}.
import type { HttpFilter, HttpFilterContext } from '../types.js';
import type { Stream } from '../../hcm/stream.js';
import type { Headers } from '../../router/headers.js';
import { CORS_FILTER_NAME, type CorsPolicy } from './config.js';

type Counters = Record<string, number>;
const countersByHcm = new WeakMap<object, Counters>();

function counters(s: Stream): Counters {
  let c = countersByHcm.get(s.hcm);
  if (!c) {
    c = s.env.stats.group(`http.${s.hcm.statPrefix}.cors`);
    c.origin_valid ??= 0;
    c.origin_invalid ??= 0;
    countersByHcm.set(s.hcm, c);
  }
  return c;
}

/** The origin a response should allow, per stream (set on the request, read on the response). */
const allowed = new WeakMap<object, { origin: string; policy: CorsPolicy }>();

export class CorsFilter implements HttpFilter {
  onRequestHeaders(ctx: HttpFilterContext): 'continue' | 'stop' {
    const s = ctx as Stream;
    const policy = s.perFilterConfig(CORS_FILTER_NAME) as CorsPolicy | undefined;
    if (!policy || policy.kind !== 'cors-policy') return 'continue';
    const raw = s.view.headers.origin;
    const origin = Array.isArray(raw) ? raw[0] : raw;
    if (!origin) return 'continue';
    if (policy.enabled < 1 && Math.random() >= policy.enabled) return 'continue';
    const c = counters(s);
    const ok = policy.origins.some((m) => m(origin));
    if (ok) c.origin_valid++;
    else c.origin_invalid++;
    const preflight = s.view.method === 'OPTIONS' && s.view.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      if (ok) allowed.set(s, { origin, policy });
      return 'continue';
    }
    if (!ok) {
      if (policy.forwardNotMatchingPreflights) return 'continue';
      s.sendLocalReply(200, '');
      return 'stop';
    }
    const h: Headers = { 'access-control-allow-origin': origin };
    if (policy.allowCredentials) h['access-control-allow-credentials'] = 'true';
    if (policy.allowMethods) h['access-control-allow-methods'] = policy.allowMethods;
    if (policy.allowHeaders) h['access-control-allow-headers'] = policy.allowHeaders;
    if (policy.maxAge) h['access-control-max-age'] = policy.maxAge;
    if (policy.allowPrivateNetworkAccess && s.view.headers['access-control-request-private-network'] === 'true') h['access-control-allow-private-network'] = 'true';
    s.sendLocalReply(200, '', undefined, h);
    return 'stop';
  }

  onResponseHeaders(ctx: HttpFilterContext, _status: number, headers: Headers): void {
    const a = allowed.get(ctx);
    if (!a) return;
    headers['access-control-allow-origin'] = a.origin;
    if (a.policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    if (a.policy.exposeHeaders) headers['access-control-expose-headers'] = a.policy.exposeHeaders;
  }
}
