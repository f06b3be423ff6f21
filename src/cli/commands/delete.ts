import { parseArgs } from 'node:util';
import { lookupKind } from '../../model/index.js';
import { clientFor, controlPlaneUrl, withControlPlane } from '../control-plane.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';
import { loadForWrite, resourceRef } from './apply.js';

/** `weft delete -f FILE` or `weft delete KIND NAME [-n NS]`. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    filename: { type: 'string', short: 'f', multiple: true },
    namespace: { type: 'string', short: 'n' },
    'control-plane': { type: 'string' },
  } });
  const url = controlPlaneUrl(values['control-plane'], io.env);
  const client = clientFor(values['control-plane'], io);
  if (values.filename?.length) {
    const items = await loadForWrite(values.filename, values.namespace, io);
    if (!items) return EXIT.invalid;
    const res = await withControlPlane(url, () => client.apply(items, { delete: true }));
    for (const it of res.items) io.out.write(`${resourceRef(it.kind, it.name)} ${it.action}\n`);
    return EXIT.ok;
  }
  const [kindWord, ...names] = positionals;
  if (!kindWord || names.length === 0) throw new UsageError('use weft delete -f FILE, or weft delete KIND NAME [-n NS]');
  const info = lookupKind(kindWord);
  if (!info) throw new UsageError(`unknown kind "${kindWord}"`);
  const ns = values.namespace ?? 'default';
  for (const name of names) {
    await withControlPlane(url, () => client.delete(info.kind, info.namespaced ? ns : undefined, name)).catch((e: unknown) => {
      throw e instanceof CliError ? e : new CliError(String(e));
    });
    io.out.write(`${resourceRef(info.kind, name)} deleted\n`);
  }
  return EXIT.ok;
}
