// envoy.extensions.filters.http.router.v3.Router: the terminal filter that forwards upstream.
import type { Obj } from '../../wire.js';
import { bool } from '../../wire.js';
import type { HttpFilterFactory } from '../types.js';
import { RouterFilter } from './filter.js';

export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export interface RouterConfig {
  /** Envoy's suppress_envoy_headers: no x-envoy-upstream-service-time. */
  readonly suppressEnvoyHeaders: boolean;
}

export const routerFactory: HttpFilterFactory<RouterConfig> = {
  name: 'envoy.filters.http.router',
  configTypes: [ROUTER_TYPE],
  terminal: true,
  parseConfig(config: Obj, path: string): RouterConfig {
    return { suppressEnvoyHeaders: bool(config.suppress_envoy_headers, `${path}.suppress_envoy_headers`, false) };
  },
  create(config: RouterConfig) {
    // Stateless: one instance per config serves every request.
    return (shared.get(config)) ?? makeShared(config);
  },
};

const shared = new WeakMap<RouterConfig, RouterFilter>();
function makeShared(config: RouterConfig): RouterFilter {
  const f = new RouterFilter(config);
  shared.set(config, f);
  return f;
}
