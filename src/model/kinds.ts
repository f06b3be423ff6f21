// The kinds Weft accepts: API group, versions, REST plural and istioctl short names.

export interface KindInfo {
  kind: string;
  group: string; // '' for the core group
  versions: readonly string[];
  /** Version used when Weft writes the object back (storage version). */
  storageVersion: string;
  plural: string;
  shortNames: readonly string[];
  namespaced: boolean;
}

const NET = ['v1alpha3', 'v1beta1', 'v1'] as const;
const SEC = ['v1beta1', 'v1'] as const;

export const KINDS: readonly KindInfo[] = [
  { kind: 'VirtualService', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'virtualservices', shortNames: ['vs'], namespaced: true },
  { kind: 'DestinationRule', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'destinationrules', shortNames: ['dr'], namespaced: true },
  { kind: 'Gateway', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'gateways', shortNames: ['gw'], namespaced: true },
  { kind: 'ServiceEntry', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'serviceentries', shortNames: ['se'], namespaced: true },
  { kind: 'WorkloadEntry', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'workloadentries', shortNames: ['we'], namespaced: true },
  { kind: 'WorkloadGroup', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'workloadgroups', shortNames: ['wg'], namespaced: true },
  { kind: 'Sidecar', group: 'networking.istio.io', versions: NET, storageVersion: 'v1', plural: 'sidecars', shortNames: [], namespaced: true },
  { kind: 'EnvoyFilter', group: 'networking.istio.io', versions: ['v1alpha3'], storageVersion: 'v1alpha3', plural: 'envoyfilters', shortNames: [], namespaced: true },
  { kind: 'PeerAuthentication', group: 'security.istio.io', versions: SEC, storageVersion: 'v1', plural: 'peerauthentications', shortNames: ['pa'], namespaced: true },
  { kind: 'RequestAuthentication', group: 'security.istio.io', versions: SEC, storageVersion: 'v1', plural: 'requestauthentications', shortNames: ['ra'], namespaced: true },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', versions: SEC, storageVersion: 'v1', plural: 'authorizationpolicies', shortNames: ['ap'], namespaced: true },
  { kind: 'Telemetry', group: 'telemetry.istio.io', versions: ['v1alpha1', 'v1'], storageVersion: 'v1', plural: 'telemetries', shortNames: ['telemetry'], namespaced: true },
  { kind: 'Service', group: '', versions: ['v1'], storageVersion: 'v1', plural: 'services', shortNames: ['svc'], namespaced: true },
  { kind: 'Secret', group: '', versions: ['v1'], storageVersion: 'v1', plural: 'secrets', shortNames: ['secret'], namespaced: true },
  { kind: 'Namespace', group: '', versions: ['v1'], storageVersion: 'v1', plural: 'namespaces', shortNames: ['ns'], namespaced: false },
];

/** Kinds that describe containers: Weft runs processes instead (`weft run`), or runs on Kubernetes. */
export const WORKLOAD_KINDS: readonly string[] = [
  'Deployment', 'Pod', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController',
];

export function apiVersionOf(info: KindInfo, version = info.storageVersion): string {
  return info.group ? `${info.group}/${version}` : version;
}

/** Finds a kind by its name, plural, singular or short name (case-insensitive), as `kubectl get` does. */
export function lookupKind(word: string): KindInfo | undefined {
  const w = word.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === w || k.plural === w || k.shortNames.includes(w)
    || `${k.plural}.${k.group}` === w || `${k.kind.toLowerCase()}.${k.group}` === w);
}

export function kindByName(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}

export function kindByPlural(group: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural);
}
