// A finding about a config document: validation errors, deprecation and analyzer warnings.
// Shared by ingestion (src/config), the config API (src/api) and the CLI.

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Stable code: WEFT-* for validation, IST0xxx for analyzer findings (Istio's codes). */
  code: string;
  message: string;
  /** Field path inside the document, e.g. `spec.http[0].route[1].weight`. */
  path?: string;
  file?: string;
  line?: number;
  column?: number;
  kind?: string;
  namespace?: string;
  name?: string;
}
