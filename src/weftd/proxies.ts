// Tells who a connecting proxy is, from its xDS node (Istio's node id format and metadata).
import type { Workload } from '../model/index.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export type ProxyKind = 'sidecar' | 'gateway' | 'grpc';

/**
 * Node metadata key by which a proxy asks for its route configs' virtual hosts over VHDS (Envoy's
 * virtual host discovery, Delta xDS only; the Weft sidecar sets it). Its route configs then come
 * without virtual hosts and with `vhds: {config_source: {ads: {}}}`, and each virtual host is a
 * VirtualHost resource named `<route config name>/<virtual host name>`: a VirtualService change
 * sends one virtual host instead of the whole route config (a host per service of the port).
 * Envoy, gRPC and SotW clients do not set it and get whole route configs, as before.
 */
export const VHDS_METADATA = 'WEFT_VHDS';

/** Whether the node asked for VHDS (see VHDS_METADATA). */
export function wantsVhds(metadata: Record<string, unknown>): boolean {
  const v = metadata[VHDS_METADATA];
  return v === true || v === 'true' || v === '1';
}

export interface ProxyIdentity {
  id: string;
  kind: ProxyKind;
  name: string;
  namespace: string;
  address: string;
  labels: Record<string, string>;
  serviceAccount: string;
  workload?: Workload;
  /** `region/zone/subzone`: the node's locality when it sends one, else its workload's (weft run --locality). */
  locality?: string;
}

export interface NodeLike { id: string; metadata: Record<string, unknown>; locality?: { region?: string; zone?: string; sub_zone?: string } }

/**
 * Istio node ids look like `sidecar~10.0.0.1~reviews-v1-abc.default~default.svc.cluster.local`
 * (`router~...` for gateways). Proxyless gRPC clients send `GENERATOR: grpc` and `NAMESPACE` in metadata.
 */
export function identifyProxy(node: NodeLike, lookup: (ns: string, name: string) => Workload | undefined): ProxyIdentity {
  const md = node.metadata ?? {};
  const parts = node.id.split('~');
  const type = parts.length === 4 ? parts[0] : '';
  const address = parts.length === 4 ? parts[1] : (str(md.INSTANCE_IPS) ?? '').split(',')[0] ?? '';
  const podDotNs = parts.length === 4 ? parts[2] : node.id;
  const dot = podDotNs.lastIndexOf('.');
  const nsFromId = dot > 0 ? podDotNs.slice(dot + 1) : undefined;
  const nameFromId = dot > 0 ? podDotNs.slice(0, dot) : podDotNs;
  const namespace = str(md.NAMESPACE) ?? nsFromId ?? 'default';
  const name = str(md.WORKLOAD_NAME) ?? nameFromId;
  const workload = lookup(namespace, name);
  const mdLabels = (md.LABELS && typeof md.LABELS === 'object' ? md.LABELS : {}) as Record<string, string>;
  const kind: ProxyKind = md.GENERATOR === 'grpc' ? 'grpc' : type === 'router' ? 'gateway' : 'sidecar';
  return {
    id: node.id,
    kind,
    name,
    namespace,
    address: workload?.address ?? address,
    labels: { ...mdLabels, ...(workload?.labels ?? {}) },
    serviceAccount: workload?.serviceAccount ?? str(md.SERVICE_ACCOUNT) ?? 'default',
    workload,
    locality: node.locality?.region ? [node.locality.region, node.locality.zone ?? '', node.locality.sub_zone ?? ''].join('/').replace(/\/+$/, '') : workload?.locality,
  };
}

export function sidecarNodeId(kind: 'sidecar' | 'router', address: string, name: string, namespace: string): string {
  return `${kind}~${address}~${name}.${namespace}~${namespace}.svc.cluster.local`;
}
