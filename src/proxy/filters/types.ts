// The HTTP filter extension point. A factory parses its typed config once per push into a shared
// object; create() returns a cheap per-request filter (or a shared stateless one).
import type { Obj } from '../wire.js';
import type { Headers } from '../router/headers.js';
import type { RequestView } from '../router/request.js';
import type { CompiledRoute } from '../router/compile.js';

/** 'continue' runs the next filter; 'stop' means the filter has replied (sendLocalReply) or taken the request over. */
export type FilterStatus = 'continue' | 'stop';

/** What a filter sees of one request. */
export interface HttpFilterContext {
  readonly view: RequestView;
  /** The matched route (null: no route; the router answers 404 NR). */
  readonly route: CompiledRoute | null;
  /** Headers that will be sent upstream; filters may edit them. */
  readonly requestHeaders: Headers;
  readonly requestId: string;
  readonly downstreamAddress: string;
  /** Envoy response flags collected so far (UH, UF, NR, ...), for the access log. */
  responseFlags: string;
  /** Envoy's %RESPONSE_CODE_DETAILS% (e.g. rbac_access_denied_matched_policy[...]), for the access log. */
  responseCodeDetails: string;
  /** The verified end-user identity (jwt_authn), read by RBAC: Istio's istio_authn dynamic metadata. */
  authn: RequestAuthn | null;
  /** The route's typed_per_filter_config for this filter name, as parsed by its factory. */
  perFilterConfig(filterName: string): unknown;
  /** Ends the request with a locally generated response (response filters still run). */
  sendLocalReply(status: number, body: string, flag?: string, headers?: Headers): void;
}

/** What jwt_authn verified: request.auth.principal (`iss/sub`), claims, audiences, presenter (azp). */
export interface RequestAuthn {
  readonly principal: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly audiences: readonly string[];
  readonly presenter: string;
}

export interface HttpFilter {
  onRequestHeaders?(ctx: HttpFilterContext): FilterStatus | Promise<FilterStatus>;
  /** May edit the response headers before they are sent downstream (runs in reverse filter order). */
  onResponseHeaders?(ctx: HttpFilterContext, status: number, headers: Headers): void;
}

export interface HttpFilterFactory<C = unknown> {
  /** Canonical filter name, e.g. envoy.filters.http.router. */
  readonly name: string;
  /** Type URLs of the filter's typed_config this factory accepts. */
  readonly configTypes: readonly string[];
  /** Type URLs of route-level typed_per_filter_config this factory parses. */
  readonly perRouteTypes?: readonly string[];
  /** The router: must be last in the chain. */
  readonly terminal?: boolean;
  /** Validates and compiles typed_config; throws ConfigError naming the field. */
  parseConfig(config: Obj, path: string): C;
  parsePerRoute?(config: Obj, path: string): unknown;
  create(config: C): HttpFilter;
}
