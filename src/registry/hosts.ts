// Host names as Istio treats them: short-name expansion, wildcard matching, exportTo visibility.

/**
 * Expands a short name relative to a namespace: `reviews` in `default` ->
 * `reviews.default.svc.cluster.local`. Names containing a dot, and wildcards, are taken as given.
 */
export function resolveHostname(host: string, namespace: string, domainSuffix: string): string {
  if (!host || host === '*' || host.includes('.')) return host ?? '';
  return `${host}.${namespace}.${domainSuffix}`;
}

/** True when `host` (possibly a wildcard itself) lies within `pattern` (`*`, `*.foo.com` or exact). */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern === host) return true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1); // ".foo.com"
    if (host.startsWith('*')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return false;
}

/** The more specific of two intersecting hosts (Istio's gateway/VirtualService host intersection), or undefined. */
export function intersectHosts(a: string, b: string): string | undefined {
  if (hostMatches(a, b)) return b;
  if (hostMatches(b, a)) return a;
  return undefined;
}

/**
 * Whether a config object in `ownerNamespace` with `exportTo` is visible from `fromNamespace`.
 * `.` is the owner's namespace, `*` everyone, `~` no one; absent means everyone (Istio's default).
 */
export function isExportedTo(exportTo: readonly string[] | undefined, ownerNamespace: string, fromNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && ownerNamespace === fromNamespace) return true;
    if (e === fromNamespace) return true;
  }
  return false;
}

/** Label selector semantics: every selector label present with the same value. Empty selects all. */
export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** Parses a locality `region/zone/subzone` into Envoy's Locality fields (empty parts left out). */
export function parseLocality(locality: string | undefined): { region?: string; zone?: string; sub_zone?: string } {
  if (!locality) return {};
  const [region, zone, sub] = locality.split('/');
  const out: { region?: string; zone?: string; sub_zone?: string } = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (sub) out.sub_zone = sub;
  return out;
}
