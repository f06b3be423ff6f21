// Reads files, directories (recursively: *.yaml, *.yml, *.json) and stdin (`-`), then parses each.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import { type LoadResult, parseText } from './parse.js';

/** A whole file may be at most this big; beyond it we refuse to read it at all. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
const CONFIG_FILE = /\.(ya?ml|json)$/i;

export interface LoadOptions { defaultNamespace?: string; stdin?: NodeJS.ReadableStream }

export async function loadPaths(paths: string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const out: LoadResult = { documents: [], diagnostics: [] };
  const add = (r: LoadResult): void => {
    out.documents.push(...r.documents);
    out.diagnostics.push(...r.diagnostics);
  };
  const fail = (file: string, message: string, code = 'WEFT-FILE'): void => {
    out.diagnostics.push({ severity: 'error', code, message, file });
  };
  for (const p of paths) {
    if (p === '-') {
      try {
        const text = await readStream(opts.stdin ?? process.stdin);
        if (text === undefined) fail('<stdin>', `input is larger than ${MAX_FILE_BYTES / (1024 * 1024)} MiB`, 'WEFT-TOO-LARGE');
        else add(parseText(text, '<stdin>', opts));
      } catch (e) {
        fail('<stdin>', `cannot read standard input: ${(e as Error).message}`);
      }
      continue;
    }
    let files: string[];
    try {
      const st = await stat(p);
      if (st.isDirectory()) {
        files = await listConfigFiles(p);
        if (files.length === 0) {
          out.diagnostics.push({ severity: 'warning', code: 'WEFT-FILE', message: 'directory contains no .yaml, .yml or .json files', file: p });
        }
      } else files = [p];
    } catch (e) {
      fail(p, describeFsError(e));
      continue;
    }
    for (const f of files) {
      const r = await loadFile(f, opts);
      if ('message' in r) out.diagnostics.push(r);
      else add(r);
    }
  }
  return out;
}

async function loadFile(file: string, opts: LoadOptions): Promise<LoadResult | Diagnostic> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { severity: 'error', code: 'WEFT-FILE', message: 'not a regular file', file };
    if (st.size > MAX_FILE_BYTES) {
      return { severity: 'error', code: 'WEFT-TOO-LARGE', message: `file is ${(st.size / (1024 * 1024)).toFixed(1)} MiB, larger than the ${MAX_FILE_BYTES / (1024 * 1024)} MiB limit`, file };
    }
    const buf = await readFile(file);
    if (buf.includes(0)) return { severity: 'error', code: 'WEFT-FILE', message: 'not a text file (contains NUL bytes)', file };
    return parseText(buf.toString('utf8').replace(/^\uFEFF/, ''), file, opts);
  } catch (e) {
    return { severity: 'error', code: 'WEFT-FILE', message: describeFsError(e), file };
  }
}

/** Config files under `dir`, recursively, in a stable (sorted) order; hidden entries are skipped. */
async function listConfigFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listConfigFiles(p)));
    else if (e.isFile() && CONFIG_FILE.test(e.name)) out.push(p);
  }
  return out;
}

async function readStream(s: NodeJS.ReadableStream): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of s) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size > MAX_FILE_BYTES) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return (e as Error).message;
}
