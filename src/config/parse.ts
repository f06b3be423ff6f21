// YAML/JSON text -> validated resources, keeping each node's source position so every diagnostic can
// name file:line:column. Uses yaml's CST parser so an oversized document is skipped before it is composed.

import { Composer, LineCounter, Parser, isMap, isPair, isScalar, isSeq, type CST, type Document, type Node, type Pair } from 'yaml';
import type { Resource, SourcePosition } from '../model/index.js';
import { type Diagnostic, type PathSeg, formatPath } from './diagnostics.js';
import type { Issue } from './schema/dsl.js';
import { checkDocument } from './validate.js';

export interface LoadedDocument { resource: Resource; source?: SourcePosition }
export interface LoadResult { documents: LoadedDocument[]; diagnostics: Diagnostic[] }
export interface ParseOptions { defaultNamespace?: string }

/** One document may be at most this big, like Kubernetes' 1.5 MiB object limit in etcd. */
export const MAX_DOCUMENT_BYTES = 1.5 * 1024 * 1024;

function mb(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

export function parseText(text: string, file: string, opts: ParseOptions = {}): LoadResult {
  const ns = opts.defaultNamespace ?? 'default';
  const out: LoadResult = { documents: [], diagnostics: [] };
  const lc = new LineCounter();
  const pos = (offset: number): { line: number; column: number } => {
    const p = lc.linePos(offset);
    return p.line === 0 ? { line: 1, column: offset + 1 } : { line: p.line, column: p.col };
  };
  if (text.trim() === '') {
    out.diagnostics.push({ severity: 'error', code: 'WEFT-EMPTY', message: 'file is empty (no YAML or JSON documents)', file, line: 1, column: 1 });
    return out;
  }
  const tokens: CST.Token[] = Array.from(new Parser(lc.addNewLine).parse(text));
  const composer = new Composer({ prettyErrors: false, uniqueKeys: true });
  const docs: Document.Parsed[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type === 'document') {
      let j = i + 1;
      while (j < tokens.length && tokens[j].type !== 'document') j++;
      const end = j < tokens.length ? tokens[j].offset : text.length;
      if (end - t.offset > MAX_DOCUMENT_BYTES) {
        out.diagnostics.push({
          severity: 'error', code: 'WEFT-TOO-LARGE', file, ...pos(t.offset),
          message: `document is ${mb(end - t.offset)}, larger than the ${mb(MAX_DOCUMENT_BYTES)} limit for one document; split it into smaller documents`,
        });
        i = j - 1;
        continue;
      }
    }
    for (const d of composer.next(t)) docs.push(d);
  }
  for (const d of composer.end()) docs.push(d);

  let seen = 0;
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        out.diagnostics.push({ severity: 'error', code: 'WEFT-PARSE', message: `invalid YAML: ${e.message.replace(/\s+at line \d+, column \d+.*$/s, '')}`, file, ...pos(e.pos[0]) });
      }
      seen++;
      continue;
    }
    // An empty document (e.g. after a trailing `---`) parses as a null scalar that covers no source text.
    const c = doc.contents;
    if (c === null || (isScalar(c) && c.value === null && c.range[0] === c.range[1])) continue;
    seen++;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.diagnostics.push({ severity: 'error', code: 'WEFT-PARSE', message: `invalid YAML: ${(e as Error).message}`, file, ...pos(c.range[0]) });
      continue;
    }
    const root: Node = c;
    // A Kubernetes List (what `kubectl get -o yaml` writes) holds documents in `items`.
    if (isListKind(value)) {
      value.items.forEach((item, i) => addDocument(out, item, ['items', i], root, file, ns, pos));
    } else addDocument(out, value, [], root, file, ns, pos);
  }
  if (seen === 0 && !out.diagnostics.some((d) => d.severity === 'error')) {
    out.diagnostics.push({ severity: 'error', code: 'WEFT-EMPTY', message: 'file contains no documents (only comments or empty documents)', file, line: 1, column: 1 });
  }
  return out;
}

function isListKind(v: unknown): v is { items: unknown[] } {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.apiVersion === 'v1' && typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items);
}

function addDocument(out: LoadResult, value: unknown, base: PathSeg[], root: Node, file: string, ns: string,
  pos: (offset: number) => { line: number; column: number }): void {
  const checked = checkDocument(value, ns);
  const { kind, namespace, name } = checked.identity;
  const ds = checked.issues.map((issue) => {
    const offset = offsetOf(root, [...base, ...(issue.posPath ?? issue.path)], issue.at);
    return toDiagnostic(issue, { file, ...pos(offset), kind, namespace, name }, base);
  });
  out.diagnostics.push(...ds.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)));
  if (checked.resource) {
    const at = nodeAt(root, base)?.range?.[0] ?? root.range?.[0] ?? 0;
    out.documents.push({ resource: checked.resource, source: { file, ...pos(at) } });
  }
}

export function toDiagnostic(issue: Issue, where: Partial<Diagnostic>, base: PathSeg[] = []): Diagnostic {
  const d: Diagnostic = { severity: issue.severity, code: issue.code, message: issue.message };
  const path = formatPath([...base, ...issue.path]);
  if (path) d.path = path;
  for (const [k, v] of Object.entries(where)) if (v !== undefined) (d as unknown as Record<string, unknown>)[k] = v;
  return d;
}

function nodeAt(root: Node, segs: readonly PathSeg[]): Node | undefined {
  let node: Node | undefined = root;
  for (const s of segs) {
    if (isMap(node)) {
      const pair: Pair | undefined = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(s));
      node = (pair?.value as Node | null) ?? undefined;
    } else if (isSeq(node) && typeof s === 'number') node = node.items[s] as Node | undefined;
    else return undefined;
  }
  return node;
}

/** Offset of the deepest node on `segs` that exists; the key itself when `at` is 'key'. */
function offsetOf(root: Node, segs: readonly PathSeg[], at: 'key' | 'value'): number {
  let node: Node = root;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (isMap(node)) {
      const pair: Pair | undefined = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(s));
      if (!pair) break;
      const key = pair.key as Node;
      const last = i === segs.length - 1;
      if ((last && at === 'key') || pair.value === null) return key.range?.[0] ?? node.range?.[0] ?? 0;
      node = pair.value as Node;
    } else if (isSeq(node) && typeof s === 'number' && node.items[s]) node = node.items[s] as Node;
    else break;
  }
  return node.range?.[0] ?? 0;
}
