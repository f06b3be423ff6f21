// HTTP filter factories by Envoy type URL. Built-in filters register here at import time.
import { ConfigError, type Obj, anyType, bool, obj, str } from '../wire.js';
import type { HttpFilter, HttpFilterFactory } from './types.js';
import { routerFactory } from './router/config.js';
import { rbacFactory } from './rbac/config.js';
import { jwtAuthnFactory } from './jwt_authn/config.js';
import { faultFactory } from './fault/config.js';
import { corsFactory } from './cors/config.js';
import { extAuthzFactory } from './ext_authz/config.js';

const byType = new Map<string, HttpFilterFactory>();
const byPerRouteType = new Map<string, HttpFilterFactory>();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- factories are generic over their own config type
export function registerHttpFilter(f: HttpFilterFactory<any>): void {
  for (const t of f.configTypes) byType.set(t, f);
  for (const t of f.perRouteTypes ?? []) byPerRouteType.set(t, f);
}

export function filterFactoryFor(typeUrl: string): HttpFilterFactory | undefined {
  return byType.get(typeUrl.startsWith('type.googleapis.com/') ? typeUrl : `type.googleapis.com/${typeUrl}`);
}

export function registeredFilterTypes(): string[] {
  return [...byType.keys()].sort();
}

/** One compiled entry of an HCM's http_filters. */
export interface FilterEntry {
  readonly name: string;
  readonly factory: HttpFilterFactory;
  readonly config: unknown;
  create(): HttpFilter;
}

/** Compiles HttpConnectionManager.http_filters. Unknown types fail unless is_optional; router must be last. */
export function compileHttpFilters(list: unknown[], path: string): FilterEntry[] {
  const out: FilterEntry[] = [];
  list.forEach((raw, i) => {
    const p = `${path}[${i}]`;
    const f = obj(raw, p);
    const name = str(f.name, `${p}.name`);
    const cfg = obj(f.typed_config, `${p}.typed_config`);
    const type = anyType(cfg);
    const factory = type ? filterFactoryFor(type) : undefined;
    if (!factory) {
      if (bool(f.is_optional, `${p}.is_optional`, false)) return;
      throw new ConfigError(`${p}`, `unsupported HTTP filter ${name || '(unnamed)'} of type ${type || '(none)'}`);
    }
    const config = factory.parseConfig(cfg, `${p}.typed_config`);
    out.push({ name: name || factory.name, factory, config, create: () => factory.create(config) });
  });
  if (out.length === 0 || !out[out.length - 1].factory.terminal) throw new ConfigError(path, 'the last HTTP filter must be the router');
  out.slice(0, -1).forEach((e, i) => {
    if (e.factory.terminal) throw new ConfigError(`${path}[${i}]`, 'the router must be the last HTTP filter');
  });
  return out;
}

/** Parses a route's typed_per_filter_config entry with the filter that owns its type; unknown types are kept raw. */
export function parsePerRouteConfig(_filterName: string, config: Obj, path: string): unknown {
  const f = byPerRouteType.get(anyType(config));
  return f?.parsePerRoute ? f.parsePerRoute(config, path) : config;
}

registerHttpFilter(routerFactory);
registerHttpFilter(rbacFactory);
registerHttpFilter(jwtAuthnFactory);
registerHttpFilter(faultFactory);
registerHttpFilter(corsFactory);
registerHttpFilter(extAuthzFactory);
