// Istio meshConfig fields Weft reads beyond those src/registry/snapshot.ts declares on MeshConfig
// (trustDomain, extensionProviders...). Declared here by module augmentation so the snapshot carries
// them without a change to the registry module (createSnapshot copies every mesh field); they
// belong on MeshConfig itself when the registry's owner next touches it.
import type { LocalityLoadBalancerSetting } from './networking.js';

declare module '../registry/snapshot.js' {
  interface MeshConfig {
    /** Istio's meshConfig.trustDomainAliases: peers and policies of these trust domains count as ours. */
    trustDomainAliases?: readonly string[];
    /** Istio's meshConfig.localityLbSetting: for every cluster whose DestinationRule sets none. */
    localityLbSetting?: LocalityLoadBalancerSetting;
  }
}

/** The trust domain first, then its aliases, without repeats (Istio's trustdomain.Bundle). */
export function trustDomainBundle(mesh: { trustDomain: string; trustDomainAliases?: readonly string[] }): string[] {
  return [...new Set([mesh.trustDomain, ...(mesh.trustDomainAliases ?? [])])];
}
