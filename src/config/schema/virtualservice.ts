// networking.istio.io VirtualService schema and its route checks (Istio's validateHTTPRoute and friends).

import type { PathSeg } from '../diagnostics.js';
import { cidr, hostProblem, host, labels, percent, port, regex } from './checks.js';
import {
  type Check, type Ctx, type Obj, type Schema, bool, deprecated, dur, enm, int, isObj, list, map, obj, str, strList, withCheck,
} from './dsl.js';

const MS = 1;

export const exportTo = (): Schema => list(withCheck<string>(str(), (v, path, ctx) => {
  if (v !== '.' && v !== '*' && v !== '~' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) {
    ctx.error(path, 'WEFT-EXPORT', `invalid exportTo "${v}": use ".", "*" or a namespace name`);
  }
}));

/** Exactly one of exact/prefix/regex (uri, scheme, method, authority, CORS origins). */
export const stringMatch = (): Schema => obj({ exact: str(), prefix: str(), regex: str({ check: regex }) },
  { oneOf: ['exact', 'prefix', 'regex'] });
/** Header and query matches may be empty (`{}`): then only presence is checked. */
const presenceMatch = (): Schema => obj({ exact: str(), prefix: str(), regex: str({ check: regex }) }, {
  check: (v, path, ctx) => {
    const set = ['exact', 'prefix', 'regex'].filter((k) => v[k] !== undefined && v[k] !== null);
    if (set.length > 1) ctx.error(path, 'WEFT-ONEOF', `must set at most one of exact, prefix, regex, not ${set.join(' and ')}`);
  },
});
const headerMap = (): Schema => map(presenceMatch(), {
  keyCheck: (k, path, ctx) => {
    if (k === '' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z:]+$/.test(k)) ctx.error(path, 'WEFT-HEADER', `invalid header name "${k}"`, 'key');
    else if (k !== k.toLowerCase()) ctx.error(path, 'WEFT-HEADER', `header name "${k}" must be lowercase (use "${k.toLowerCase()}")`, 'key');
  },
});

export const portSelector = (): Schema => obj({ number: port() });
export const destination = (): Schema => obj({ host: str({ check: host }), subset: str(), port: portSelector() }, { required: ['host'] });

/** Envoy's header value formatters the sidecar supports (src/proxy/router/format.ts); `%%` is a literal %. */
const HEADER_FORMATTERS = new Set(['DOWNSTREAM_REMOTE_ADDRESS', 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS',
  'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_LOCAL_ADDRESS', 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', 'UPSTREAM_REMOTE_ADDRESS',
  'UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'HOSTNAME', 'START_TIME', 'REQ', 'PROTOCOL']);
const headerValue: Check<string> = (v, path, ctx) => {
  const bad = v.replace(/%%|%([A-Z][A-Z0-9_]*)(\([^)]*\))?(:\d+)?%/g, (m, name: string | undefined, args: string | undefined) => {
    if (m === '%%') return '';
    if (!name || !HEADER_FORMATTERS.has(name)) return '\u0000';
    if (name === 'REQ' && !args) return '\u0000';
    return '';
  });
  if (bad.includes('%') || bad.includes('\u0000')) {
    ctx.error(path, 'WEFT-HEADER-VALUE', `invalid header value "${v}": % starts a formatter (${[...HEADER_FORMATTERS].slice(0, 3).map((f) => `%${f}%`).join(', ')}, %REQ(name)%, ...); write %% for a literal %`);
  }
};
const headerOps = (): Schema => obj({ set: map(str({ check: headerValue })), add: map(str({ check: headerValue })), remove: strList() });
const headers = (): Schema => obj({ request: headerOps(), response: headerOps() });

const gatewayRef: Check<string> = (v, path, ctx) => {
  if (v === 'mesh') return;
  const parts = v.split('/');
  const ok = parts.length <= 2 && parts.every((p) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(p));
  if (!ok) ctx.error(path, 'WEFT-GATEWAY-REF', `invalid gateway reference "${v}": use "mesh", "name" or "namespace/name"`);
};
const gateways = (): Schema => list(str({ check: gatewayRef }));

const matchRequest = (): Schema => obj({
  name: str(), uri: stringMatch(), scheme: stringMatch(), method: stringMatch(), authority: stringMatch(),
  headers: headerMap(), port: port(), sourceLabels: labels(), gateways: gateways(), queryParams: headerMap(),
  ignoreUriCase: bool(), withoutHeaders: headerMap(), sourceNamespace: str(), statPrefix: str(),
});

const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
];
const retryOn: Check<string> = (v, path, ctx) => {
  for (const raw of v.split(',')) {
    const c = raw.trim();
    if (/^\d{3}$/.test(c) && Number(c) >= 100 && Number(c) <= 599) continue;
    if (!RETRY_ON.includes(c)) {
      const near = RETRY_ON.find((r) => r.toLowerCase() === c.toLowerCase()) ?? undefined;
      ctx.error(path, 'WEFT-RETRY-ON', `unknown retryOn condition "${c}"${near ? ` (did you mean "${near}"?)` : ''}: use ${RETRY_ON.join(', ')} or an HTTP status code`);
    }
  }
};
const retries = (): Schema => obj({
  attempts: int(0), perTryTimeout: dur(MS), retryOn: str({ check: retryOn }), retryRemoteLocalities: bool(),
  retryIgnorePreviousHosts: bool(), backoff: dur(MS),
});

const fault = (): Schema => obj({
  delay: obj({
    fixedDelay: dur(MS), exponentialDelay: dur(MS), percentage: percent(),
    percent: deprecated(int(0, 100), 'fault.delay.percent is deprecated; use percentage.value'),
  }, { check: (v, path, ctx) => {
    if (v.fixedDelay === undefined && v.exponentialDelay === undefined) ctx.error(path, 'WEFT-REQUIRED', 'delay needs fixedDelay');
  } }),
  abort: obj({ httpStatus: int(200, 599), grpcStatus: str(), http2Error: str(), percentage: percent() }, {
    check: (v, path, ctx) => {
      const set = ['httpStatus', 'grpcStatus', 'http2Error'].filter((k) => v[k] !== undefined);
      if (set.length !== 1) ctx.error(path, 'WEFT-ONEOF', 'abort needs exactly one of httpStatus, grpcStatus');
    },
  }),
});

const cors = (): Schema => obj({
  allowOrigins: list(stringMatch()),
  allowOrigin: deprecated(strList(), 'corsPolicy.allowOrigin is deprecated; use allowOrigins'),
  allow_origin: deprecated(strList(), 'corsPolicy.allow_origin is deprecated; use allowOrigins'),
  allowMethods: strList(), allowHeaders: strList(), exposeHeaders: strList(), maxAge: dur(), allowCredentials: bool(),
  unmatchedPreflights: enm(['UNSPECIFIED', 'FORWARD', 'IGNORE']),
});

const routeDestination = (): Schema => obj({ destination: destination(), weight: int(0, 100), headers: headers() }, { required: ['destination'] });
const l4Destination = (): Schema => obj({ destination: destination(), weight: int(0, 100) }, { required: ['destination'] });

/** More than one destination: weights must add up to 100 (each unset weight counts as 0). */
export function checkWeights(routes: unknown, path: PathSeg[], ctx: Ctx): void {
  if (!Array.isArray(routes) || routes.length < 2) return;
  let sum = 0;
  for (const r of routes) sum += isObj(r) && typeof r.weight === 'number' ? r.weight : 0;
  if (sum !== 100) ctx.error(path, 'WEFT-WEIGHT', `route weights add up to ${sum}, must add up to 100`);
}

const MIRROR_PERCENT = 'mirrorPercent is deprecated; use mirrorPercentage.value';
const httpRoute = (): Schema => obj({
  name: str(), match: list(matchRequest()), route: list(routeDestination()),
  redirect: obj({
    uri: str(), authority: str(), port: port(), derivePort: enm(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']),
    scheme: str(), redirectCode: int(300, 399), prefixRewrite: str(),
  }),
  directResponse: obj({ status: int(200, 599), body: obj({ string: str(), bytes: str() }) }, { required: ['status'] }),
  delegate: obj({ name: str(), namespace: str() }, { required: ['name'] }),
  rewrite: obj({ uri: str(), authority: str(), uriRegexRewrite: obj({ match: str({ check: regex }), rewrite: str() }, { required: ['match', 'rewrite'] }) }),
  timeout: dur(MS), retries: retries(), fault: fault(), mirror: destination(),
  mirrors: list(obj({ destination: destination(), percentage: percent() }, { required: ['destination'] })),
  mirrorPercentage: percent(),
  mirrorPercent: deprecated(int(0, 100), MIRROR_PERCENT),
  mirror_percent: deprecated(int(0, 100), MIRROR_PERCENT),
  corsPolicy: cors(), headers: headers(),
}, { check: checkHttpRoute });

function checkHttpRoute(v: Obj, path: PathSeg[], ctx: Ctx): void {
  const has = (k: string): boolean => v[k] !== undefined && v[k] !== null;
  if (!has('route') && !has('redirect') && !has('directResponse') && !has('delegate')) {
    ctx.error(path, 'WEFT-ROUTE', 'HTTP route must have one of route, redirect, directResponse or delegate');
  }
  if (has('route') && has('redirect')) ctx.error(path, 'WEFT-ROUTE', 'HTTP route cannot have both route and redirect');
  if (has('directResponse') && (has('route') || has('redirect'))) ctx.error(path, 'WEFT-ROUTE', 'HTTP route cannot have directResponse together with route or redirect');
  if (has('delegate') && (has('route') || has('redirect') || has('directResponse'))) {
    ctx.error(path, 'WEFT-ROUTE', 'HTTP route with delegate cannot also have route, redirect or directResponse');
  }
  if (has('mirror') && has('mirrors')) ctx.error(path, 'WEFT-ROUTE', 'use either mirror or mirrors, not both');
  if (Array.isArray(v.route) && v.route.length === 0 && !has('redirect') && !has('directResponse')) {
    ctx.error([...path, 'route'], 'WEFT-REQUIRED', 'route must have at least one destination');
  }
  const rw = isObj(v.rewrite) ? v.rewrite : undefined;
  if (rw && rw.uri !== undefined && rw.uriRegexRewrite !== undefined) ctx.error([...path, 'rewrite'], 'WEFT-ONEOF', 'rewrite cannot have both uri and uriRegexRewrite');
  const rd = isObj(v.redirect) ? v.redirect : undefined;
  if (rd && rd.port !== undefined && rd.derivePort !== undefined) ctx.error([...path, 'redirect'], 'WEFT-ONEOF', 'redirect cannot have both port and derivePort');
  checkWeights(v.route, [...path, 'route'], ctx);
}

const l4Match = {
  destinationSubnets: list(str({ check: cidr })), port: port(), sourceLabels: labels(), gateways: gateways(), sourceNamespace: str(),
};
const tcpRoute = (): Schema => obj({ match: list(obj(l4Match)), route: list(l4Destination(), { minItems: 1 }) }, {
  required: ['route'], check: (v, path, ctx) => checkWeights(v.route, [...path, 'route'], ctx),
});
const sniHost: Check<string> = (v, path, ctx) => {
  const p = hostProblem(v);
  if (p) ctx.error(path, 'WEFT-HOST', p);
};
const tlsRoute = (): Schema => obj({
  match: list(obj({ ...l4Match, sniHosts: list(str({ check: sniHost }), { minItems: 1 }) }, { required: ['sniHosts'] }), { minItems: 1 }),
  route: list(l4Destination(), { minItems: 1 }),
}, { required: ['match', 'route'], check: (v, path, ctx) => checkWeights(v.route, [...path, 'route'], ctx) });

const vsHost: Check<string> = (v, path, ctx) => {
  const p = hostProblem(v, true);
  if (p) ctx.error(path, 'WEFT-HOST', p);
};

export const virtualService: Schema = obj({
  hosts: list(str({ check: vsHost })), gateways: gateways(), http: list(httpRoute()), tls: list(tlsRoute()), tcp: list(tcpRoute()),
  exportTo: exportTo(),
}, { check: checkVirtualService });

function checkVirtualService(v: Obj, path: PathSeg[], ctx: Ctx): void {
  const hosts = Array.isArray(v.hosts) ? (v.hosts as unknown[]) : v.hosts === undefined ? undefined : [];
  const gws = Array.isArray(v.gateways) ? (v.gateways as unknown[]) : [];
  if (Array.isArray(hosts) && hosts.length === 0) ctx.error([...path, 'hosts'], 'WEFT-REQUIRED', 'VirtualService hosts must not be empty');
  if (hosts === undefined && gws.length > 0) {
    ctx.error([...path, 'hosts'], 'WEFT-REQUIRED', 'missing required field "hosts" (only a delegate VirtualService, which has no gateways, may omit hosts)', 'value', path);
  }
  if (hosts?.includes('*') && (gws.length === 0 || gws.includes('mesh'))) {
    ctx.error([...path, 'hosts', hosts.indexOf('*')], 'WEFT-HOST', 'wildcard host "*" is not allowed for VirtualServices bound to the mesh gateway');
  }
  const routes = ['http', 'tcp', 'tls'].filter((k) => Array.isArray(v[k]) && (v[k] as unknown[]).length > 0);
  if (routes.length === 0) ctx.error(path, 'WEFT-REQUIRED', 'VirtualService needs at least one of http, tcp or tls routes');
}
