// YAML/JSON text -> validated resources, keeping each node's source position so every diagnostic can
// name file:line:column. Uses yaml's CST parser so an oversized document is skipped before it is composed.

import { Composer, LineCounter, Parser, isMap, isPair, isScalar, isSeq, visit, type Document, type Node, type Pair } from 'yaml';
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
  if (text.trim() === '') {
    out.diagnostics.push({ severity: 'error', code: 'WEFT-EMPTY', message: 'file is empty (no YAML or JSON documents)', file, line: 1, column: 1 });
    return out;
  }
  // Split at `---` lines first (cheap), so an oversized document is refused before the YAML parser sees it.
  let seen = 0;
  for (const chunk of splitDocuments(text)) {
    if (chunk.text.length > MAX_DOCUMENT_BYTES) {
      out.diagnostics.push({
        severity: 'error', code: 'WEFT-TOO-LARGE', file, line: chunk.line, column: 1,
        message: `document is ${mb(chunk.text.length)}, larger than the ${mb(MAX_DOCUMENT_BYTES)} limit for one document; split it into smaller documents`,
      });
      seen++;
      continue;
    }
    seen += parseChunk(chunk.text, chunk.line - 1, file, ns, out);
  }
  if (seen === 0 && !out.diagnostics.some((d) => d.severity === 'error')) {
    out.diagnostics.push({ severity: 'error', code: 'WEFT-EMPTY', message: 'file contains no documents (only comments or empty documents)', file, line: 1, column: 1 });
  }
  return out;
}

/** Pieces of `text` starting at each `---` line (a document marker ends any scalar, so this split is safe). */
function splitDocuments(text: string): { text: string; line: number }[] {
  const starts = [0];
  for (const m of text.matchAll(/^---(?=[ \t\r\n]|$)/gm)) if (m.index > 0) starts.push(m.index);
  const out: { text: string; line: number }[] = [];
  let line = 1;
  for (let i = 0; i < starts.length; i++) {
    const piece = text.slice(starts[i], starts[i + 1] ?? text.length);
    out.push({ text: piece, line });
    for (let k = piece.indexOf('\n'); k !== -1; k = piece.indexOf('\n', k + 1)) line++;
  }
  return out;
}

/** Parses one piece that begins on line `lineBase + 1`; returns how many non-empty documents it held. */
function parseChunk(text: string, lineBase: number, file: string, ns: string, out: LoadResult): number {
  const lc = new LineCounter();
  const pos = (offset: number): { line: number; column: number } => {
    const p = lc.linePos(offset);
    return p.line === 0 ? { line: lineBase + 1, column: offset + 1 } : { line: lineBase + p.line, column: p.col };
  };
  const docs: Document.Parsed[] = [];
  const composer = new Composer({ prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  for (const t of new Parser(lc.addNewLine).parse(text)) for (const d of composer.next(t)) docs.push(d);
  for (const d of composer.end()) docs.push(d);

  const lang = /\.json$/i.test(file) ? 'JSON' : 'YAML';
  let seen = 0;
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        out.diagnostics.push({ severity: 'error', code: 'WEFT-PARSE', message: `invalid ${lang}: ${e.message.replace(/\s+at line \d+, column \d+.*$/s, '')}`, file, ...pos(e.pos[0]) });
      }
      seen++;
      continue;
    }
    // An empty document (e.g. after a trailing `---`) parses as a null scalar that covers no source text.
    const c = doc.contents;
    if (c === null || (isScalar(c) && c.value === null && c.range[0] === c.range[1])) continue;
    seen++;
    for (const w of doc.warnings) {
      out.diagnostics.push({ severity: 'warning', code: 'WEFT-PARSE', message: `${lang}: ${w.message.replace(/\s+at line \d+, column \d+.*$/s, '')}`, file, ...pos(w.pos[0]) });
    }
    // Kubernetes objects only have string keys; `? [a]: b` or `{a: 1}: b` would be silently stringified.
    let badKey: Node | undefined;
    visit(doc, { Pair: (_k, pair) => {
      if (pair.key !== null && !isScalar(pair.key)) {
        badKey = pair.key as Node;
        return visit.BREAK;
      }
      return undefined;
    } });
    if (badKey) {
      out.diagnostics.push({ severity: 'error', code: 'WEFT-PARSE', message: `invalid ${lang}: map keys must be plain strings, not lists or maps`, file, ...pos(badKey.range?.[0] ?? 0) });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.diagnostics.push({ severity: 'error', code: 'WEFT-PARSE', message: `invalid ${lang}: ${(e as Error).message}`, file, ...pos(c.range[0]) });
      continue;
    }
    const root: Node = c;
    // A Kubernetes List (what `kubectl get -o yaml` writes) holds documents in `items`.
    if (isListKind(value)) {
      value.items.forEach((item, i) => addDocument(out, item, ['items', i], root, file, ns, pos));
    } else addDocument(out, value, [], root, file, ns, pos);
  }
  return seen;
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
