export * from './resource.js';
export * from './kinds.js';
export * from './networking.js';
export * from './security.js';
export * from './telemetry.js';
export * from './core.js';
export * from './diagnostic.js';
export * from './mesh.js';

/** A workload registered live by `weft run` (not stored as YAML): Weft's equivalent of a Pod. */
export interface Workload {
  name: string;
  namespace: string;
  /** Address allocated from 127.0.0.0/8, like a pod IP. */
  address: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** Service port -> the port the sidecar's inbound listener binds on `address` (equal to the service port). */
  ports: Record<string, number>;
  /** Port the application itself listens on, on 127.0.0.1. */
  appPort?: number;
  locality?: string;
  /** Set once the sidecar reported ready. */
  ready?: boolean;
}
