// Envoy's per-request dynamic metadata (filter namespace -> key -> value), for what one HTTP filter
// tells a later one: the RBAC filter's shadow result (`<prefix>shadow_effective_policy_id`), read by
// ext_authz's `filter_enabled_metadata` (how Istio runs CUSTOM authorization only for matching requests).
const byRequest = new WeakMap<object, Map<string, Record<string, unknown>>>();

export function setDynamicMetadata(request: object, filter: string, key: string, value: unknown): void {
  let m = byRequest.get(request);
  if (!m) byRequest.set(request, (m = new Map()));
  let ns = m.get(filter);
  if (!ns) m.set(filter, (ns = {}));
  ns[key] = value;
}

/** The value at filter / path (nested keys), or undefined. */
export function dynamicMetadata(request: object, filter: string, path: readonly string[]): unknown {
  let v: unknown = byRequest.get(request)?.get(filter);
  for (const k of path) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
