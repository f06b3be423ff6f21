// envoy.extensions.filters.http.rbac.v3.RBAC: enforced rules plus optional shadow rules, compiled once per push.
import { ConfigError, type Obj, bool, isObj, str } from '../../wire.js';
import type { HttpFilterFactory } from '../types.js';
import { type RbacEngine, compileRbac } from './engine.js';
import { RbacFilter } from './filter.js';

export const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const RBAC_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';
export const RBAC_FILTER_NAME = 'envoy.filters.http.rbac';

export interface RbacConfig {
  /** null: no `rules` field, every request is allowed (Envoy). */
  readonly rules: RbacEngine | null;
  readonly shadow: RbacEngine | null;
  /** Inserted before `rbac.` in the stat names (Envoy's rules_stat_prefix). */
  readonly rulesStatPrefix: string;
  /** Prefixed to shadow_allowed / shadow_denied (Envoy's shadow_rules_stat_prefix). */
  readonly shadowStatPrefix: string;
  /** Counters per policy: `rbac.policy.<name>.allowed|denied` (Envoy's track_per_rule_stats). */
  readonly trackPerRuleStats: boolean;
}

export function parseRbacConfig(config: Obj, path: string): RbacConfig {
  if (config.matcher !== undefined || config.shadow_matcher !== undefined) throw new ConfigError(`${path}.matcher`, 'the xDS matcher API form of RBAC is not supported; use rules');
  return {
    rules: isObj(config.rules) ? compileRbac(config.rules, `${path}.rules`) : null,
    shadow: isObj(config.shadow_rules) ? compileRbac(config.shadow_rules, `${path}.shadow_rules`) : null,
    rulesStatPrefix: str(config.rules_stat_prefix, `${path}.rules_stat_prefix`),
    shadowStatPrefix: str(config.shadow_rules_stat_prefix, `${path}.shadow_rules_stat_prefix`),
    trackPerRuleStats: bool(config.track_per_rule_stats, `${path}.track_per_rule_stats`, false),
  };
}

export const rbacFactory: HttpFilterFactory<RbacConfig> = {
  name: RBAC_FILTER_NAME,
  configTypes: [RBAC_TYPE],
  perRouteTypes: [RBAC_PER_ROUTE_TYPE],
  parseConfig: parseRbacConfig,
  parsePerRoute(config: Obj, path: string): RbacConfig | null {
    // RBACPerRoute{rbac: RBAC}; an absent rbac disables the filter on that route.
    return isObj(config.rbac) ? parseRbacConfig(config.rbac, `${path}.rbac`) : null;
  },
  create(config: RbacConfig) {
    let f = shared.get(config);
    if (!f) shared.set(config, (f = new RbacFilter(config)));
    return f;
  },
};

const shared = new WeakMap<RbacConfig, RbacFilter>();
