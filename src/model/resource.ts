// The envelope every stored config object shares, shaped like a Kubernetes object.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Opaque, changes on every write; used for optimistic concurrency. */
  resourceVersion?: string;
  /** Increments when `spec` changes. */
  generation?: number;
  creationTimestamp?: string;
  uid?: string;
}

export interface Resource<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
}

/** Where a document came from, so every message can name file:line:column. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** Uniquely names a stored object: kind + namespace + name. */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

export function keyOf(r: Pick<Resource, 'kind' | 'metadata'>, defaultNamespace = 'default'): ResourceKey {
  return { kind: r.kind, namespace: r.metadata.namespace ?? defaultNamespace, name: r.metadata.name };
}

export function keyString(k: ResourceKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}
