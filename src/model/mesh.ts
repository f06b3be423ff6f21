// Helpers over Istio's meshConfig fields (the fields themselves: MeshConfig in src/registry/snapshot.ts).

/** The trust domain first, then its aliases, without repeats (Istio's trustdomain.Bundle). */
export function trustDomainBundle(mesh: { trustDomain: string; trustDomainAliases?: readonly string[] }): string[] {
  return [...new Set([mesh.trustDomain, ...(mesh.trustDomainAliases ?? [])])];
}
