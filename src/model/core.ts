// The subset of core v1 kinds Weft understands: Service (a mesh service over workloads by label), Namespace,
// and Secret (gateway TLS credentials for `credentialName`).

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

/**
 * A core v1 Secret as Weft stores it: Kubernetes' top-level `type` and `data` (base64 values, with
 * `stringData` merged in) kept under `spec`. The API never returns `data` (see src/api/secrets.ts).
 */
export interface SecretSpec {
  type: string;
  data: Record<string, string>;
}
