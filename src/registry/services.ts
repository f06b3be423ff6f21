// Builds mesh services and their endpoints from v1 Services, ServiceEntries, WorkloadEntries and
// the live workloads registered by `weft run`.
import type { Resource, ServiceSpec, ServicePort, ServiceEntrySpec, WorkloadEntrySpec, Port, Workload } from '../model/index.js';
import type { ConfigSnapshot } from './snapshot.js';
import { resourcesOfKind } from './snapshot.js';
import { labelsMatch } from './hosts.js';
import { type Protocol, parseProtocol, servicePortProtocol } from './protocol.js';

export interface ServicePortInfo {
  name: string;
  port: number;
  protocol: Protocol;
  /** v1 Service targetPort (number or container port name) or ServiceEntry targetPort. */
  targetPort?: number | string;
}

export type Resolution = 'CLIENT_SIDE_LB' | 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface MeshService {
  /** FQDN (`reviews.default.svc.cluster.local`) or a ServiceEntry host (may be a wildcard). */
  hostname: string;
  namespace: string;
  /** Kind and name of the resource that defined it. */
  source: { kind: 'Service' | 'ServiceEntry'; name: string };
  ports: readonly ServicePortInfo[];
  exportTo?: readonly string[];
  resolution: Resolution;
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  addresses: readonly string[];
}

export interface ServiceEndpoint {
  /** IP literal (or a DNS name for DNS-resolved ServiceEntries). */
  address: string;
  port: number;
  /** The service port this endpoint serves. */
  servicePort: number;
  labels: Readonly<Record<string, string>>;
  locality?: string;
  weight: number;
  serviceAccount?: string;
  namespace: string;
  /** `Workload/<name>`, `WorkloadEntry/<name>` or `ServiceEntry/<name>` (inline endpoint). */
  origin: string;
}

interface EndpointSource {
  address: string;
  labels: Readonly<Record<string, string>>;
  ports: Readonly<Record<string, number>>;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
  namespace: string;
  origin: string;
}

function fromWorkload(w: Workload): EndpointSource {
  return { address: w.address, labels: w.labels, ports: w.ports, locality: w.locality, serviceAccount: w.serviceAccount,
    namespace: w.namespace, origin: `Workload/${w.name}` };
}

function fromWorkloadEntry(spec: WorkloadEntrySpec, namespace: string, origin: string): EndpointSource | undefined {
  if (!spec.address) return undefined;
  return { address: spec.address, labels: spec.labels ?? {}, ports: spec.ports ?? {}, locality: spec.locality,
    weight: spec.weight, serviceAccount: spec.serviceAccount, namespace, origin };
}

/** Where a v1 Service port lands on one endpoint: named targetPort via the ports map, numbers mapped when listed. */
function k8sEndpointPort(p: ServicePortInfo, src: EndpointSource): number | undefined {
  const tp = p.targetPort;
  if (typeof tp === 'string' && !/^\d+$/.test(tp)) return src.ports[tp];
  const num = tp === undefined ? p.port : Number(tp);
  return src.ports[String(num)] ?? (p.name ? src.ports[p.name] : undefined) ?? src.ports[String(p.port)] ?? num;
}

/** ServiceEntry ports: the endpoint's ports map is keyed by port name. */
function seEndpointPort(p: ServicePortInfo, src: EndpointSource): number {
  const tp = typeof p.targetPort === 'number' ? p.targetPort : undefined;
  return src.ports[p.name] ?? src.ports[String(tp ?? p.port)] ?? tp ?? p.port;
}

function endpoint(src: EndpointSource, port: number, servicePort: number): ServiceEndpoint {
  return { address: src.address, port, servicePort, labels: src.labels, locality: src.locality,
    weight: src.weight && src.weight > 0 ? src.weight : 1, serviceAccount: src.serviceAccount,
    namespace: src.namespace, origin: src.origin };
}

export interface ServiceWithEndpoints { service: MeshService; endpoints: readonly ServiceEndpoint[] }

/**
 * Endpoint sources by namespace and by each `label=value`, in their original order, so a selector
 * is matched against the few sources carrying its first label instead of every source.
 */
class SourceIndex {
  private readonly byNs = new Map<string, { all: EndpointSource[]; byLabel: Map<string, EndpointSource[]> }>();

  constructor(sources: readonly EndpointSource[]) {
    for (const s of sources) {
      let e = this.byNs.get(s.namespace);
      if (!e) this.byNs.set(s.namespace, (e = { all: [], byLabel: new Map() }));
      e.all.push(s);
      for (const [k, v] of Object.entries(s.labels)) {
        const key = `${k}=${v}`;
        let list = e.byLabel.get(key);
        if (!list) e.byLabel.set(key, (list = []));
        list.push(s);
      }
    }
  }

  /** Sources of `namespace` whose labels match `selector` (all of the namespace for an empty one). */
  select(namespace: string, selector: Readonly<Record<string, string>> | undefined): EndpointSource[] {
    const e = this.byNs.get(namespace);
    if (!e) return [];
    const first = selector ? Object.entries(selector)[0] : undefined;
    const candidates = first ? e.byLabel.get(`${first[0]}=${first[1]}`) ?? [] : e.all;
    return candidates.filter((src) => labelsMatch(selector, src.labels));
  }
}

function k8sService(r: Resource<ServiceSpec>, domainSuffix: string, sources: SourceIndex): ServiceWithEndpoints {
  const ns = r.metadata.namespace ?? 'default';
  const ports: ServicePortInfo[] = (r.spec.ports ?? []).map((p: ServicePort) => ({
    name: p.name ?? '', port: p.port, protocol: servicePortProtocol(p), targetPort: p.targetPort,
  }));
  const service: MeshService = {
    hostname: `${r.metadata.name}.${ns}.${domainSuffix}`, namespace: ns,
    source: { kind: 'Service', name: r.metadata.name }, ports,
    exportTo: exportToAnnotation(r), resolution: 'CLIENT_SIDE_LB', location: 'MESH_INTERNAL',
    addresses: r.spec.clusterIP && r.spec.clusterIP !== 'None' ? [r.spec.clusterIP] : [],
  };
  const endpoints: ServiceEndpoint[] = [];
  const selector = r.spec.selector;
  if (selector && Object.keys(selector).length > 0) {
    for (const src of sources.select(ns, selector)) {
      for (const p of ports) {
        const port = k8sEndpointPort(p, src);
        if (port !== undefined) endpoints.push(endpoint(src, port, p.port));
      }
    }
  }
  return { service, endpoints };
}

/** `networking.istio.io/exportTo: ".,ns1"` on a v1 Service, as Istio reads it. */
function exportToAnnotation(r: Resource): string[] | undefined {
  const a = r.metadata.annotations?.['networking.istio.io/exportTo'];
  return a ? a.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

function serviceEntryServices(r: Resource<ServiceEntrySpec>, sources: SourceIndex): ServiceWithEndpoints[] {
  const ns = r.metadata.namespace ?? 'default';
  const spec = r.spec;
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p: Port) => ({
    name: p.name ?? '', port: p.number, protocol: parseProtocol(p.protocol), targetPort: p.targetPort,
  }));
  const resolution: Resolution = spec.resolution ?? 'NONE';
  const srcs: EndpointSource[] = [];
  (spec.endpoints ?? []).forEach((e, i) => {
    const s = fromWorkloadEntry(e, ns, `ServiceEntry/${r.metadata.name}#${i}`);
    if (s) srcs.push(s);
  });
  if (spec.workloadSelector) {
    srcs.push(...sources.select(ns, spec.workloadSelector.labels));
  }
  return (spec.hosts ?? []).filter((h) => !!h).map((hostname) => {
    const endpoints: ServiceEndpoint[] = [];
    for (const src of srcs) for (const p of ports) endpoints.push(endpoint(src, seEndpointPort(p, src), p.port));
    if (endpoints.length === 0 && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !hostname.startsWith('*')) {
      // A DNS ServiceEntry without endpoints resolves its own host name.
      for (const p of ports) {
        endpoints.push({ address: hostname, port: typeof p.targetPort === 'number' ? p.targetPort : p.port, servicePort: p.port,
          labels: {}, weight: 1, namespace: ns, origin: `ServiceEntry/${r.metadata.name}` });
      }
    }
    const service: MeshService = {
      hostname, namespace: ns, source: { kind: 'ServiceEntry', name: r.metadata.name }, ports,
      exportTo: spec.exportTo, resolution, location: spec.location ?? 'MESH_EXTERNAL', addresses: spec.addresses ?? [],
    };
    return { service, endpoints };
  });
}

/** Every service of the snapshot with its endpoints, in resource precedence order. */
export function buildServices(snapshot: ConfigSnapshot): ServiceWithEndpoints[] {
  const sources: EndpointSource[] = [];
  for (const w of snapshot.workloads) if (w.ready !== false) sources.push(fromWorkload(w));
  for (const we of resourcesOfKind<WorkloadEntrySpec>(snapshot, 'WorkloadEntry')) {
    const s = fromWorkloadEntry(we.spec, we.metadata.namespace ?? 'default', `WorkloadEntry/${we.metadata.name}`);
    if (s) sources.push(s);
  }
  const index = new SourceIndex(sources);
  const out: ServiceWithEndpoints[] = [];
  for (const r of resourcesOfKind<ServiceSpec>(snapshot, 'Service')) out.push(k8sService(r, snapshot.mesh.domainSuffix, index));
  for (const r of resourcesOfKind<ServiceEntrySpec>(snapshot, 'ServiceEntry')) out.push(...serviceEntryServices(r, index));
  return out;
}
