// Kubernetes-style Status errors: handlers throw ApiError, the server turns it into the response.
import type { Diagnostic, Status, StatusCause, StatusReason } from './types.js';

export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
    this.name = 'ApiError';
  }
}

export function statusOf(code: number, reason: StatusReason, message: string, details: Status['details'] = {}): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, details };
}

export function apiError(code: number, reason: StatusReason, message: string, details: Status['details'] = {}): ApiError {
  return new ApiError(statusOf(code, reason, message, details));
}

/** What a resource is called in messages: `virtualservices.networking.istio.io` (core kinds: `services`). */
export function resourceName(plural: string, group: string): string {
  return group ? `${plural}.${group}` : plural;
}

export const notFound = (plural: string, group: string, name: string): ApiError =>
  apiError(404, 'NotFound', `${resourceName(plural, group)} "${name}" not found`, { name, group, kind: plural });

export const alreadyExists = (plural: string, group: string, name: string): ApiError =>
  apiError(409, 'AlreadyExists', `${resourceName(plural, group)} "${name}" already exists`, { name, group, kind: plural });

export const conflict = (plural: string, group: string, name: string): ApiError =>
  apiError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceName(plural, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group, kind: plural });

export const badRequest = (message: string): ApiError => apiError(400, 'BadRequest', message);

export function causeOf(d: Diagnostic, fieldPrefix = ''): StatusCause {
  const field = fieldPrefix && d.path ? `${fieldPrefix}.${d.path}` : fieldPrefix || d.path || '';
  return { field, message: d.message, reason: d.code };
}

/** 422 Invalid, phrased as Kubernetes does: `Kind.group "name" is invalid: field: message, ...`. */
export function invalid(subject: string, name: string, group: string, kind: string, errors: Diagnostic[], causes: StatusCause[]): ApiError {
  const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return apiError(422, 'Invalid', `${subject} "${name}" is invalid: ${summary}`, { name, group, kind, causes, diagnostics: errors });
}

/** A Warning header value as Kubernetes sends it (RFC 7234 code 299), limited to visible latin1. */
export function warningHeader(message: string): string {
  const clean = message.replace(/[^\x20-\x7e]/g, '?').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `299 - "${clean.length > 1000 ? `${clean.slice(0, 997)}...` : clean}"`;
}

export function describeDiagnostic(d: Diagnostic): string {
  const who = d.kind ? `${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name ?? ''}: ` : '';
  return `${who}${d.path ? `${d.path}: ` : ''}${d.message}`;
}
