// Who is asking: Istio node ids (`sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local`,
// `router~...` for gateways) and proxyless gRPC clients (node metadata GENERATOR: grpc).
import type { Workload } from '../model/index.js';
import type { ConfigSnapshot } from '../registry/index.js';

export interface ProxyInfo {
  id: string;
  kind: 'sidecar' | 'gateway' | 'grpc';
  name: string;
  namespace: string;
  labels: Record<string, string>;
  address: string;
  serviceAccount: string;
  workload?: Workload;
  /** `region/zone/subzone` (from node.locality or the workload): drives locality failover. */
  locality?: string;
}

function metaString(meta: Record<string, unknown>, key: string): string | undefined {
  const v = meta[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function metaLabels(meta: Record<string, unknown>): Record<string, string> {
  const v = meta.LABELS;
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

/**
 * Parses an xDS node into a ProxyInfo. Accepts Istio's `TYPE~IP~NAME.NAMESPACE~DOMAIN` ids; with
 * metadata GENERATOR=grpc the node is a proxyless gRPC client whatever its id looks like.
 * Metadata NAMESPACE, LABELS, SERVICE_ACCOUNT and INSTANCE_IPS override what the id says.
 * Throws an Error naming the id when it cannot tell the namespace.
 */
export function parseNodeId(id: string, metadata: Record<string, unknown> = {}): ProxyInfo {
  const parts = id.split('~');
  let kind: ProxyInfo['kind'] = 'sidecar';
  let address = '';
  let name = id;
  let namespace = metaString(metadata, 'NAMESPACE');
  if (parts.length === 4) {
    const [type, ip, podDotNs, domain] = parts;
    if (type === 'router') kind = 'gateway';
    else if (type !== 'sidecar') throw new Error(`node id ${JSON.stringify(id)}: unknown proxy type ${JSON.stringify(type)} (want sidecar or router)`);
    address = ip;
    const dot = podDotNs.lastIndexOf('.');
    name = dot > 0 ? podDotNs.slice(0, dot) : podDotNs;
    namespace ??= dot > 0 ? podDotNs.slice(dot + 1) : domain.split('.')[0];
  }
  if (metaString(metadata, 'GENERATOR') === 'grpc') kind = 'grpc';
  const ips = metaString(metadata, 'INSTANCE_IPS');
  if (!address && ips) address = ips.split(',')[0];
  if (!namespace) {
    throw new Error(`node id ${JSON.stringify(id)}: no namespace (use sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local or metadata NAMESPACE)`);
  }
  return {
    id, kind, name, namespace, address,
    labels: metaLabels(metadata),
    serviceAccount: metaString(metadata, 'SERVICE_ACCOUNT') ?? 'default',
  };
}

/**
 * Attaches the registered workload (by address, else by name and namespace) when the proxy has
 * none, taking labels and service account from it where the node did not say.
 */
export function withWorkload(proxy: ProxyInfo, snapshot: ConfigSnapshot): ProxyInfo {
  if (proxy.workload) return proxy;
  const w = snapshot.workloads.find((x) => proxy.address !== '' && x.address === proxy.address)
    ?? snapshot.workloads.find((x) => x.name === proxy.name && x.namespace === proxy.namespace);
  if (!w) return proxy;
  return {
    ...proxy,
    workload: w,
    address: proxy.address || w.address,
    labels: Object.keys(proxy.labels).length > 0 ? proxy.labels : { ...w.labels },
    serviceAccount: proxy.serviceAccount !== 'default' ? proxy.serviceAccount : w.serviceAccount,
    locality: proxy.locality ?? w.locality,
  };
}
