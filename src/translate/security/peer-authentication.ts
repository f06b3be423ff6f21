// PeerAuthentication -> the mTLS mode of one workload port, with Istio's precedence: a policy
// selecting the workload (oldest first) over the namespace-wide one over the mesh-wide one (root
// namespace). portLevelMtls applies on selector policies; UNSET inherits from the next level; the
// default is PERMISSIVE.
import type { MtlsMode, PeerAuthenticationSpec, Resource, Workload } from '../../model/index.js';
import { resourcesOfKind, type ConfigSnapshot } from '../../registry/index.js';

export type EffectiveMtls = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

function matches(sel: Record<string, string> | undefined, labels: Readonly<Record<string, string>>): boolean {
  return !!sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
}

function oldest(list: Resource<PeerAuthenticationSpec>[]): Resource<PeerAuthenticationSpec> | undefined {
  return [...list].sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? ''))
    || String(a.metadata.name).localeCompare(String(b.metadata.name)))[0];
}

const set = (m: MtlsMode | undefined): EffectiveMtls | undefined => (m === 'STRICT' || m === 'PERMISSIVE' || m === 'DISABLE' ? m : undefined);

export function mtlsModeFor(snapshot: ConfigSnapshot, workload: Pick<Workload, 'namespace' | 'labels'>, port: number): EffectiveMtls {
  const all = resourcesOfKind<PeerAuthenticationSpec>(snapshot, 'PeerAuthentication');
  const noSelector = (r: Resource<PeerAuthenticationSpec>): boolean => !r.spec.selector?.matchLabels || Object.keys(r.spec.selector.matchLabels).length === 0;
  const ns = workload.namespace;
  const root = snapshot.mesh.rootNamespace;
  const mesh = oldest(all.filter((r) => r.metadata.namespace === root && noSelector(r)));
  const namespaceWide = ns === root ? undefined : oldest(all.filter((r) => r.metadata.namespace === ns && noSelector(r)));
  const selected = oldest(all.filter((r) => r.metadata.namespace === ns && !noSelector(r) && matches(r.spec.selector?.matchLabels, workload.labels)));
  let mode: EffectiveMtls = set(mesh?.spec.mtls?.mode) ?? 'PERMISSIVE';
  mode = set(namespaceWide?.spec.mtls?.mode) ?? mode;
  if (selected) {
    mode = set(selected.spec.mtls?.mode) ?? mode;
    mode = set(selected.spec.portLevelMtls?.[String(port)]?.mode) ?? mode;
  }
  return mode;
}
