// The router filter: route action -> cluster (logical) -> endpoint (concrete) -> forward.
import type { HttpFilter, HttpFilterContext } from '../types.js';
import type { Stream } from '../../hcm/stream.js';
import type { CompiledRoute, RouteAction } from '../../router/compile.js';
import { applyHeaderOps } from '../../router/headers.js';
import type { Cluster, ClusterSlot } from '../../upstream/cluster.js';
import type { Endpoint } from '../../upstream/endpoint.js';
import { type UpstreamRequest, forwardHttp, forwardUpgrade } from '../../upstream/forward.js';
import type { RouterConfig } from './config.js';

export const NO_HEALTHY_UPSTREAM = 'no healthy upstream';

export class RouterFilter implements HttpFilter {
  constructor(private readonly config: RouterConfig) {}

  onRequestHeaders(ctx: HttpFilterContext): 'stop' {
    const s = ctx as Stream;
    const route = s.route;
    if (!route) {
      s.hcm.stats.no_route++;
      s.sendLocalReply(404, '', 'NR');
      return 'stop';
    }
    const action = route.action;
    switch (action.kind) {
      case 'direct':
        s.hcm.stats.rq_direct_response++;
        s.sendLocalReply(action.status, action.body);
        return 'stop';
      case 'redirect':
        s.hcm.stats.rq_redirect++;
        s.sendLocalReply(action.status, '', undefined, { location: redirectLocation(s, route, action) });
        return 'stop';
      case 'cluster':
        this.toCluster(s, route, action.cluster);
        return 'stop';
      case 'weighted': {
        let r = Math.random() * action.total;
        let t = action.targets[action.targets.length - 1];
        for (const x of action.targets) {
          if (r < x.weight) {
            t = x;
            break;
          }
          r -= x.weight;
        }
        if (t.requestOps.length) applyHeaderOps(s.requestHeaders, t.requestOps);
        s.targetResponseOps = t.responseOps;
        this.toCluster(s, route, t.cluster);
        return 'stop';
      }
    }
  }

  private toCluster(s: Stream, route: CompiledRoute, slot: ClusterSlot): void {
    const cluster = slot.current;
    if (!cluster) {
      s.hcm.stats.no_cluster++;
      s.sendLocalReply(503, '', 'NC');
      return;
    }
    if (route.requestOps.length) applyHeaderOps(s.requestHeaders, route.requestOps);
    const h = s.requestHeaders;
    const authority = route.hostRewrite ?? String(h.host ?? s.view.authority);
    h.host = authority;
    const hp = route.hashPolicy ? route.hashPolicy(s) : null;
    const hash = hp ? hp.hash : undefined;
    const ep = pickEndpoint(cluster, authority, hash);
    if (!ep) {
      cluster.stats.upstream_cx_none_healthy++;
      s.sendLocalReply(503, NO_HEALTHY_UPSTREAM, 'UH');
      return;
    }
    const u: UpstreamRequest = {
      path: rewritePath(s.view.path, route),
      authority,
      suppressEnvoyHeaders: this.config.suppressEnvoyHeaders,
      hash,
      setCookie: hp ? hp.setCookie : undefined,
    };
    if (s.socket) forwardUpgrade(s, cluster, ep, u);
    else forwardHttp(s, cluster, ep, route, u);
  }
}

/** ORIGINAL_DST: the requested host:port; otherwise the cluster's load balancer. */
export function pickEndpoint(cluster: Cluster, authority: string, hash?: number): Endpoint | null {
  if (cluster.type !== 'ORIGINAL_DST') return cluster.picker.pick(hash);
  const { host, port } = splitAuthority(authority, 80);
  return host ? cluster.originalDst(host, port) : null;
}

export function splitAuthority(authority: string, defPort: number): { host: string; port: number } {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    const port = authority.charCodeAt(end + 1) === 58 ? Number(authority.slice(end + 2)) : defPort;
    return { host: authority.slice(1, end), port: Number.isInteger(port) ? port : defPort };
  }
  const c = authority.lastIndexOf(':');
  if (c < 0) return { host: authority, port: defPort };
  const port = Number(authority.slice(c + 1));
  return { host: authority.slice(0, c), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : defPort };
}

function rewritePath(path: string, route: CompiledRoute): string {
  if (route.prefixRewrite !== undefined && route.prefix !== undefined && path.startsWith(route.prefix)) {
    return route.prefixRewrite + path.slice(route.prefix.length);
  }
  if (route.regexRewrite) {
    const q = path.indexOf('?');
    const p = q < 0 ? path : path.slice(0, q);
    route.regexRewrite.re.lastIndex = 0;
    return p.replace(route.regexRewrite.re, route.regexRewrite.substitution) + (q < 0 ? '' : path.slice(q));
  }
  return path;
}

function redirectLocation(s: Stream, route: CompiledRoute, a: Extract<RouteAction, { kind: 'redirect' }>): string {
  const { host: curHost, port: curPort } = splitAuthority(s.view.authority, 0);
  const scheme = a.scheme ?? s.view.scheme;
  const host = a.host ?? curHost;
  let port = a.port !== undefined ? a.port : a.host !== undefined ? 0 : curPort;
  if (a.scheme === 'https' && a.port === undefined) port = 0;
  if ((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443)) port = 0;
  let path = s.view.path;
  const q = path.indexOf('?');
  const query = q < 0 ? '' : path.slice(q);
  if (a.path !== undefined) path = a.path + (a.path.includes('?') ? '' : query);
  else if (a.prefixRewrite !== undefined && route.prefix !== undefined) path = a.prefixRewrite + path.slice(route.prefix.length);
  if (a.stripQuery) {
    const i = path.indexOf('?');
    if (i >= 0) path = path.slice(0, i);
  }
  return `${scheme}://${host}${port ? `:${port}` : ''}${path}`;
}
