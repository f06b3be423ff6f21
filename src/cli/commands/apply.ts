import { parseArgs } from 'node:util';
import { formatDiagnostic, hasErrors, loadPaths } from '../../config/index.js';
import { kindByName } from '../../model/index.js';
import { clientFor, controlPlaneUrl, withControlPlane } from '../control-plane.js';
import { EXIT, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';

export function resourceRef(kind: string, name: string): string {
  const info = kindByName(kind);
  return info ? `${kind.toLowerCase()}${info.group ? '.' + info.group : ''}/${name}` : `${kind}/${name}`;
}

/** Loads and validates -f inputs; prints every diagnostic; returns the resources or undefined on error. */
export async function loadForWrite(files: string[], namespace: string | undefined, io: CliIO) {
  const result = await loadPaths(files, { defaultNamespace: namespace, stdin: io.stdin });
  for (const d of result.diagnostics) io.err.write(formatDiagnostic(d) + '\n');
  if (hasErrors(result.diagnostics)) return undefined;
  if (namespace) {
    for (const { resource } of result.documents) {
      if (resource.metadata.namespace && resource.metadata.namespace !== namespace && resource.kind !== 'Namespace') {
        io.err.write(`error: ${resource.kind} ${resource.metadata.name}: the namespace from the document (${resource.metadata.namespace}) does not match -n ${namespace}\n`);
        return undefined;
      }
    }
  }
  return result.documents.map((d) => d.resource);
}

/** `weft apply -f FILE|DIR|- [-n NS] [--dry-run]`: atomic, nothing is applied if any document is invalid. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    filename: { type: 'string', short: 'f', multiple: true },
    namespace: { type: 'string', short: 'n' },
    'dry-run': { type: 'boolean' },
    'control-plane': { type: 'string' },
  } });
  if (!values.filename?.length) throw new UsageError('-f FILE|DIR|- is required');
  const items = await loadForWrite(values.filename, values.namespace, io);
  if (!items) {
    io.err.write('nothing applied\n');
    return EXIT.invalid;
  }
  if (items.length === 0) {
    io.err.write('no objects passed to apply\n');
    return EXIT.invalid;
  }
  const url = controlPlaneUrl(values['control-plane'], io.env);
  const client = clientFor(values['control-plane'], io);
  const res = await withControlPlane(url, () => client.apply(items, { dryRun: values['dry-run'] ?? false }));
  for (const w of res.warnings ?? []) io.err.write(formatDiagnostic(w) + '\n');
  const suffix = values['dry-run'] ? ' (dry run)' : '';
  for (const it of res.items) io.out.write(`${resourceRef(it.kind, it.name)} ${it.action}${suffix}\n`);
  return EXIT.ok;
}
