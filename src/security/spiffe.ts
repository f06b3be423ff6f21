// SPIFFE identities of workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
export interface SpiffeId { trustDomain: string; namespace: string; serviceAccount: string }

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export function spiffeUri(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

const RE = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

export function parseSpiffe(uri: string): SpiffeId | undefined {
  const m = RE.exec(uri);
  return m ? { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] } : undefined;
}

/** URI SANs out of Node's `subjectaltname` string ("URI:spiffe://..., DNS:x"). */
export function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  return subjectaltname.split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}
