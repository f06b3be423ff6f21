// Ingestion: Istio YAML/JSON in, validated resources and positioned diagnostics out.

import { checkDocument } from './validate.js';
import type { Diagnostic } from './diagnostics.js';
import { toDiagnostic, type LoadedDocument } from './parse.js';

export type { Diagnostic } from './diagnostics.js';
export { formatDiagnostic, hasErrors, formatPath } from './diagnostics.js';
export { parseText, MAX_DOCUMENT_BYTES, type LoadedDocument, type LoadResult } from './parse.js';
export { loadPaths, MAX_FILE_BYTES } from './load.js';
export { analyze } from './analyze.js';
export { suggest, editDistance } from './didyoumean.js';

/** Validates one object (e.g. a JSON body arriving at the REST API); no positions, `file` is echoed when given. */
export function validateResource(obj: unknown, opts: { file?: string; defaultNamespace?: string } = {}): Diagnostic[] {
  const checked = checkDocument(obj, opts.defaultNamespace ?? 'default');
  const { kind, namespace, name } = checked.identity;
  return checked.issues.map((i) => toDiagnostic(i, { file: opts.file, kind, namespace, name }));
}


/**
 * Fills file:line:column into diagnostics that lack them (e.g. from `analyze`) from the loaded document with the
 * same kind/namespace/name: the position of that document's start.
 */
export function attachSources(ds: readonly Diagnostic[], documents: readonly LoadedDocument[]): Diagnostic[] {
  const where = new Map<string, LoadedDocument['source']>();
  for (const d of documents) where.set(`${d.resource.kind}/${d.resource.metadata.namespace ?? ''}/${d.resource.metadata.name}`, d.source);
  return ds.map((d) => {
    if (d.file !== undefined) return d;
    const src = where.get(`${d.kind}/${d.namespace ?? ''}/${d.name}`);
    return src ? { ...d, file: src.file, line: src.line, column: src.column } : d;
  });
}
export { tlsMaterial, tlsPairProblem, certificateInfo, type CertificateInfo, type TlsSecretMaterial } from './schema/secret.js';
export { parseMeshConfig, checkMeshConfig, checkMeshSettings, type LoadedMeshConfig, type MeshSettings } from './mesh-config.js';
