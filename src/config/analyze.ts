// Cross-reference checks over a full set of resources, in the style of `istioctl analyze` (Istio's codes).
// Findings are warnings: config that references something not (yet) applied is valid, just not effective.

import type { Resource } from '../model/index.js';
import type { Diagnostic, PathSeg } from './diagnostics.js';
import { formatPath } from './diagnostics.js';
import { IncrementalAnalysis } from './analyze-incremental.js';

export type Obj = Record<string, unknown>;
export const DOMAIN = 'svc.cluster.local';

/** Istio's rule: a short name is relative to the referring resource's namespace. */
export function fqdn(host: string, namespace: string): string {
  if (host.includes('*')) return host;
  const parts = host.split('.');
  if (parts.length === 1) return `${host}.${namespace}.${DOMAIN}`;
  if (parts.length === 2) return `${host}.${DOMAIN}`;
  if (parts.length === 3 && parts[2] === 'svc') return `${host}.cluster.local`;
  return host;
}

export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

let shared: IncrementalAnalysis | undefined;

/**
 * Analyzes a whole config (same findings, in the same order, as analyzeFull). Repeated calls over a
 * config of frozen resources (the store's) re-check only what changed since the previous call and
 * what that can affect; anything else is analyzed in full.
 */
export function analyze(resources: readonly Resource[]): Diagnostic[] {
  return (shared ??= new IncrementalAnalysis()).run(resources);
}

/** What the per-resource checks read about the rest of the config. */
export interface AnalysisFacts {
  /** A Service or ServiceEntry exists for the (fully qualified) host. */
  known(host: string): boolean;
  hasSubset(host: string, subset: string): boolean;
  /** `namespace/name` of a Gateway. */
  hasGateway(ref: string): boolean;
  /** `namespace/name` of a VirtualService. */
  hasVirtualService(ref: string): boolean;
  /** `spec.data` of the Secret `namespace/name`, undefined when there is none. */
  secret(ref: string): Obj | undefined;
}

export const nsOf = (r: Resource): string => r.metadata.namespace ?? 'default';

function warner(out: Diagnostic[]): Warn {
  return (r, code, path, message) => {
    out.push({ severity: 'warning', code, message, path: formatPath(path), kind: r.kind, namespace: nsOf(r), name: r.metadata.name });
  };
}

/** Everything the whole config is analyzed for (`istioctl analyze`); see analyze-incremental.ts for repeated runs. */
export function analyzeFull(resources: readonly Resource[]): Diagnostic[] {
  const services = new Set<string>();
  const seHosts: string[] = [];
  const gateways = new Set<string>();
  const subsets = new Map<string, Set<string>>();
  const vsNames = new Set<string>();
  const secrets = new Map<string, Obj>();
  for (const r of resources) {
    const spec = obj(r.spec);
    const ns = nsOf(r);
    if (r.kind === 'Service') services.add(`${r.metadata.name}.${ns}.${DOMAIN}`);
    else if (r.kind === 'ServiceEntry') {
      for (const h of arr(spec.hosts)) if (typeof h === 'string') seHosts.push(fqdn(h, ns));
    } else if (r.kind === 'Gateway') gateways.add(`${ns}/${r.metadata.name}`);
    else if (r.kind === 'VirtualService') vsNames.add(`${ns}/${r.metadata.name}`);
    else if (r.kind === 'DestinationRule' && typeof spec.host === 'string') {
      const h = fqdn(spec.host, ns);
      const set = subsets.get(h) ?? new Set<string>();
      for (const s of arr(spec.subsets)) if (typeof obj(s).name === 'string') set.add(obj(s).name as string);
      subsets.set(h, set);
    } else if (r.kind === 'Secret') secrets.set(`${ns}/${r.metadata.name}`, obj(obj(r.spec).data));
  }
  const facts: AnalysisFacts = {
    known: (h) => h.includes('*') || services.has(h) || seHosts.some((p) => hostMatches(p, h)),
    hasSubset: (h, s) => subsets.get(h)?.has(s) ?? false,
    hasGateway: (ref) => gateways.has(ref),
    hasVirtualService: (ref) => vsNames.has(ref),
    secret: (ref) => secrets.get(ref),
  };
  const out: Diagnostic[] = [];
  for (const r of resources) if (r.kind === 'Gateway') out.push(...checkGatewayCredentials(r, facts));
  const meshHosts = new Map<string, Resource[]>();
  for (const r of resources) {
    out.push(...checkResource(r, facts));
    for (const f of meshHostsOf(r)) meshHosts.set(f, [...(meshHosts.get(f) ?? []), r]);
  }
  for (const [host, vss] of meshHosts) out.push(...meshHostConflicts(host, vss));
  return out;
}

/** The fully qualified hosts a VirtualService bound to the mesh declares, in order (repeats kept). */
export function meshHostsOf(r: Resource): string[] {
  if (r.kind !== 'VirtualService') return [];
  const spec = obj(r.spec);
  const gws = arr(spec.gateways).filter((g): g is string => typeof g === 'string');
  if (gws.length !== 0 && !gws.includes('mesh')) return [];
  return arr(spec.hosts).filter((h): h is string => typeof h === 'string').map((h) => fqdn(h, nsOf(r)));
}

/** IST0109 for one host and the mesh VirtualServices declaring it, in config order. */
export function meshHostConflicts(host: string, vss: readonly Resource[]): Diagnostic[] {
  const byKey = new Map(vss.map((v) => [`${nsOf(v)}/${v.metadata.name}`, v]));
  const distinct = [...byKey.values()];
  if (distinct.length < 2) return [];
  const out: Diagnostic[] = [];
  const warn = warner(out);
  const names = distinct.map((v) => `${nsOf(v)}/${v.metadata.name}`).join(', ');
  for (const v of distinct) {
    warn(v, 'IST0109', ['spec', 'hosts'], `The VirtualServices ${names} associated with mesh gateway define the same host "${host}"; they do not merge, which can lead to undefined behavior`);
  }
  return out;
}

/** The checks of one DestinationRule or VirtualService against the rest of the config (others: none). */
export function checkResource(r: Resource, facts: AnalysisFacts): Diagnostic[] {
  const out: Diagnostic[] = [];
  const warn = warner(out);
  const spec = obj(r.spec);
  const ns = nsOf(r);
  if (r.kind === 'DestinationRule' && typeof spec.host === 'string' && !facts.known(fqdn(spec.host, ns))) {
    warn(r, 'IST0174', ['spec', 'host'], `host "${spec.host}" matches no Service or ServiceEntry`);
  }
  if (r.kind === 'DestinationRule') checkServerVerification(r, spec, warn);
  if (r.kind !== 'VirtualService') return out;
  const gws = arr(spec.gateways).filter((g): g is string => typeof g === 'string');
  const checkGateway = (g: string, path: PathSeg[]): void => {
    if (g === 'mesh') return;
    const ref = g.includes('/') ? g : `${ns}/${g}`;
    if (!facts.hasGateway(ref)) warn(r, 'IST0101', path, `Referenced gateway not found: "${g}"`);
  };
  gws.forEach((g, i) => checkGateway(g, ['spec', 'gateways', i]));
  const checkDest = (d: unknown, path: PathSeg[]): void => {
    const host = obj(d).host;
    if (typeof host !== 'string') return;
    const h = fqdn(host, ns);
    if (!facts.known(h)) warn(r, 'IST0101', [...path, 'host'], `Referenced host not found: "${host}" (no Service or ServiceEntry for ${h})`);
    const subset = obj(d).subset;
    if (typeof subset === 'string' && !facts.hasSubset(h, subset)) {
      warn(r, 'IST0101', [...path, 'subset'], `Referenced host+subset in destinationrule not found: "${host}+${subset}"`);
    }
  };
  for (const kind of ['http', 'tcp', 'tls'] as const) {
    arr(spec[kind]).forEach((route, i) => {
      const rt = obj(route);
      arr(rt.route).forEach((dst, j) => checkDest(obj(dst).destination, ['spec', kind, i, 'route', j, 'destination']));
      arr(rt.match).forEach((m, j) => arr(obj(m).gateways).forEach((g, k) => {
        if (typeof g === 'string') checkGateway(g, ['spec', kind, i, 'match', j, 'gateways', k]);
      }));
      if (rt.mirror !== undefined) checkDest(rt.mirror, ['spec', kind, i, 'mirror']);
      arr(rt.mirrors).forEach((m, j) => checkDest(obj(m).destination, ['spec', kind, i, 'mirrors', j, 'destination']));
      const del = obj(rt.delegate);
      if (typeof del.name === 'string' && !facts.hasVirtualService(`${typeof del.namespace === 'string' ? del.namespace : ns}/${del.name}`)) {
        warn(r, 'IST0101', ['spec', kind, i, 'delegate'], `Referenced delegate VirtualService not found: "${del.name}"`);
      }
    });
  }
  return out;
}

type Warn = (r: Resource, code: string, path: PathSeg[], message: string) => void;

/** IST0128: client TLS that does not verify the server (SIMPLE/MUTUAL without caCertificates or credentialName). */
function checkServerVerification(r: Resource, spec: Obj, warn: Warn): void {
  const check = (tp: unknown, path: PathSeg[]): void => {
    const tls = obj(obj(tp).tls);
    if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && tls.caCertificates === undefined && tls.credentialName === undefined
      && tls.insecureSkipVerify !== true) {
      warn(r, 'IST0128', [...path, 'tls'], `DestinationRule ${r.metadata.name} uses ${tls.mode} TLS without caCertificates, so the server certificate is not verified`);
    }
  };
  check(spec.trafficPolicy, ['spec', 'trafficPolicy']);
  arr(obj(spec.trafficPolicy).portLevelSettings).forEach((p, i) => check(p, ['spec', 'trafficPolicy', 'portLevelSettings', i]));
  arr(spec.subsets).forEach((s, i) => check(obj(s).trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']));
}

/**
 * IST0161 InvalidGatewayCredential: a Gateway server's `tls.credentialName` names no Secret. Istio looks
 * in the gateway workload's namespace; without workloads here, the Gateway's own namespace and the
 * root namespace (where the default ingress gateway runs) count. Such a server is not served.
 */
export function checkGatewayCredentials(r: Resource, facts: AnalysisFacts): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (r.kind !== 'Gateway') return out;
  const warn = warner(out);
  const ns = r.metadata.namespace ?? 'default';
  arr(obj(r.spec).servers).forEach((srv, i) => {
    const tls = obj(obj(srv).tls);
    const name = tls.credentialName;
    if (typeof name !== 'string' || name === '') return;
    const where = [ns, 'istio-system'].find((n) => facts.secret(`${n}/${name}`) !== undefined);
    const path: PathSeg[] = ['spec', 'servers', i, 'tls', 'credentialName'];
    if (!where) {
      warn(r, 'IST0161', path, `InvalidGatewayCredential: secret "${name}" not found in namespace ${ns === 'istio-system' ? ns : `${ns} or istio-system`} (it must be in the gateway workload's namespace: weft create secret tls ${name} --cert FILE --key FILE -n NAMESPACE); this server is not served until it exists`);
      return;
    }
    const data = facts.secret(`${where}/${name}`) ?? {};
    if (tls.mode === 'MUTUAL' && data['ca.crt'] === undefined && data.cacert === undefined && facts.secret(`${where}/${name}-cacert`) === undefined) {
      warn(r, 'IST0161', path, `InvalidGatewayCredential: MUTUAL TLS needs a CA, but secret ${where}/${name} has no ca.crt and there is no secret ${where}/${name}-cacert; this server is not served`);
    }
  });
  return out;
}
