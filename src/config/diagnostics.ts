// Diagnostics: what ingestion reports about a document, with where it came from.

export type { Diagnostic } from '../model/diagnostic.js';
import type { Diagnostic } from '../model/diagnostic.js';

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** One line: `file:line:col: severity: Kind ns/name: path: message` (the code stays in `d.code`). */
export function formatDiagnostic(d: Diagnostic): string {
  let where = '';
  if (d.file !== undefined) {
    where = d.file;
    if (d.line !== undefined) where += `:${d.line}` + (d.column !== undefined ? `:${d.column}` : '');
    where += ': ';
  }
  let subject = '';
  if (d.kind) {
    const id = d.name ? (d.namespace ? `${d.namespace}/${d.name}` : d.name) : '';
    subject = id ? `${d.kind} ${id}: ` : `${d.kind}: `;
  }
  const path = d.path ? `${d.path}: ` : '';
  return `${where}${d.severity}: ${subject}${path}${d.message}`;
}

export type PathSeg = string | number;

/** `spec.http[0].route[1].weight`; keys that are not identifiers are quoted: `labels["app.kubernetes.io/name"]`. */
export function formatPath(segs: readonly PathSeg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}
