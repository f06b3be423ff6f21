// The subset of core v1 kinds Weft understands: Service (a mesh service over workloads by label) and Namespace.

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
  nodePort?: number;
}
export interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: ServicePort[];
  type?: string;
  clusterIP?: string;
}
export type NamespaceSpec = Record<string, never>;
