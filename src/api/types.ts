// Wire types of the config API, shared by the server and the client.
import type { Resource } from '../model/index.js';

export type { Diagnostic } from '../model/diagnostic.js';
import type { Diagnostic } from '../model/diagnostic.js';

export type StatusReason =
  | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'BadRequest' | 'Unauthorized' | 'MethodNotAllowed'
  | 'RequestEntityTooLarge' | 'ServiceUnavailable' | 'InternalError';

export interface StatusCause {
  field: string;
  message: string;
  reason: string;
}

/** A Kubernetes `Status` object: the body of every error response. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: StatusReason;
  code: number;
  details: {
    name?: string;
    group?: string;
    /** The resource plural, as Kubernetes reports it (e.g. `virtualservices`). */
    kind?: string;
    causes?: StatusCause[];
    /** Weft extension: the full diagnostics behind a 422, with kind/namespace/name, so the CLI can print them. */
    diagnostics?: Diagnostic[];
  };
}

export interface ResourceList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string };
  items: Resource[];
}

export interface ApplyRequest {
  items: Resource[];
  dryRun?: boolean;
  delete?: boolean;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found';

export interface ApplyItemResult {
  kind: string;
  /** '' for cluster-scoped kinds (Namespace). */
  namespace: string;
  name: string;
  action: ApplyAction;
  /** The stored resourceVersion after the apply (absent for deletes and dry runs of new objects). */
  resourceVersion?: string;
}

export interface ApplyResponse {
  kind: 'ApplyResult';
  apiVersion: 'weft.dev/v1';
  items: ApplyItemResult[];
  warnings: Diagnostic[];
  dryRun: boolean;
  /** Store revision after the apply. */
  revision: string;
}

export const APPLY_PATH = '/apis/weft.dev/v1/apply';
