import { parseArgs } from 'node:util';
import { analyze, formatDiagnostic, hasErrors, loadPaths } from '../../config/index.js';
import { EXIT, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';

/** `weft validate -f FILE|DIR|-`: offline validation, the same checks weftd runs on apply. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    filename: { type: 'string', short: 'f', multiple: true },
    namespace: { type: 'string', short: 'n' },
  } });
  if (!values.filename?.length) throw new UsageError('-f FILE|DIR|- is required');
  const result = await loadPaths(values.filename, { defaultNamespace: values.namespace, stdin: io.stdin });
  const diagnostics = [...result.diagnostics];
  if (!hasErrors(diagnostics)) diagnostics.push(...analyze(result.documents.map((d) => d.resource)));
  for (const d of diagnostics) io.err.write(formatDiagnostic(d) + '\n');
  if (hasErrors(diagnostics)) return EXIT.invalid;
  io.out.write(`${result.documents.length} document(s) valid\n`);
  return EXIT.ok;
}
