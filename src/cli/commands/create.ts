// `weft create secret tls NAME --cert FILE --key FILE [--ca FILE] [-n NS]` and
// `weft create secret generic NAME --from-file=[KEY=]FILE ... [--from-literal=KEY=VALUE] [-n NS]`, as
// kubectl spells them: the Secret goes to weftd (which checks the certificate/key pair and keeps it in
// its store); gateways reference it by `credentialName`.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Resource } from '../../model/index.js';
import { tlsPairProblem } from '../../config/index.js';
import { clientFor, controlPlaneUrl, withControlPlane } from '../control-plane.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import type { CliIO } from '../io.js';

const USAGE = 'use weft create secret tls NAME --cert FILE --key FILE [--ca FILE] [-n NS], or weft create secret generic NAME --from-file=[KEY=]FILE ... [-n NS]';

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the ${what} file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** Builds the Secret; checks the TLS material locally first, so the error names the file. */
const OPTIONS = {
  cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
  'from-file': { type: 'string', multiple: true }, 'from-literal': { type: 'string', multiple: true },
  namespace: { type: 'string', short: 'n' }, 'dry-run': { type: 'boolean' }, 'control-plane': { type: 'string' },
} as const;

export function secretFromArgs(argv: string[]): Resource {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [what, type, name] = positionals;
  if (what !== 'secret' || !type || !name || positionals.length > 3) throw new UsageError(USAGE);
  const data: Record<string, string> = {};
  const files: Record<string, string> = {};
  const put = (key: string, text: string, file?: string): void => {
    if (data[key] !== undefined) throw new UsageError(`key ${key} given twice`);
    data[key] = Buffer.from(text, 'utf8').toString('base64');
    if (file) files[key] = file;
  };
  let secretType: string;
  if (type === 'tls') {
    if (!values.cert || !values.key) throw new UsageError('weft create secret tls needs --cert FILE and --key FILE');
    if (values['from-file']?.length || values['from-literal']?.length) throw new UsageError('--from-file/--from-literal are for weft create secret generic');
    put('tls.crt', readPem(values.cert, 'certificate'), values.cert);
    put('tls.key', readPem(values.key, 'private key'), values.key);
    if (values.ca) put('ca.crt', readPem(values.ca, 'CA certificate'), values.ca);
    secretType = 'kubernetes.io/tls';
  } else if (type === 'generic') {
    if (values.cert || values.key || values.ca) throw new UsageError('--cert/--key/--ca are for weft create secret tls; use --from-file=tls.crt=FILE');
    for (const spec of values['from-file'] ?? []) {
      const eq = spec.indexOf('=');
      const key = eq > 0 ? spec.slice(0, eq) : basename(spec);
      const file = eq > 0 ? spec.slice(eq + 1) : spec;
      put(key, readPem(file, key), file);
    }
    for (const spec of values['from-literal'] ?? []) {
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new UsageError(`--from-literal=${spec}: use KEY=VALUE`);
      put(spec.slice(0, eq), spec.slice(eq + 1));
    }
    if (Object.keys(data).length === 0) throw new UsageError('weft create secret generic needs --from-file or --from-literal');
    secretType = 'Opaque';
  } else {
    throw new UsageError(`unknown secret type "${type}" (tls or generic); ${USAGE}`);
  }
  const dec = (k: string): string | undefined => (data[k] === undefined ? undefined : Buffer.from(data[k], 'base64').toString('utf8'));
  const problem = tlsPairProblem({ cert: dec('tls.crt') ?? dec('cert'), key: dec('tls.key') ?? dec('key'), ca: dec('ca.crt') ?? dec('cacert') });
  if (problem) {
    const key = problem.field === 'cert' ? (data['tls.crt'] !== undefined ? 'tls.crt' : 'cert') : problem.field === 'key' ? (data['tls.key'] !== undefined ? 'tls.key' : 'key') : (data['ca.crt'] !== undefined ? 'ca.crt' : 'cacert');
    throw new CliError(`secret ${name}: ${files[key] ? `${files[key]} (${key})` : key} ${problem.message}`);
  }
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: values.namespace ?? 'default' }, spec: undefined, type: secretType, data } as unknown as Resource;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const secret = secretFromArgs(argv);
  const { values } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const cp = values['control-plane'];
  const dryRun = values['dry-run'] === true;
  const url = controlPlaneUrl(cp, io.env);
  const client = clientFor(cp, io);
  const { spec: _unused, ...body } = secret as unknown as Record<string, unknown>;
  await withControlPlane(url, () => client.create(body as unknown as Resource, { dryRun }));
  io.out.write(`secret/${secret.metadata.name} created${dryRun ? ' (dry run)' : ''}\n`);
  return EXIT.ok;
}
