import { parseArgs } from 'node:util';
import { lookupKind, type Resource } from '../../model/index.js';
import { clientFor, controlPlaneUrl, withControlPlane } from '../control-plane.js';
import { EXIT, UsageError } from '../errors.js';
import { age, printObjects, table, type CliIO } from '../io.js';

type Columns = { headers: string[]; cells: (r: Resource) => string[] };
const list = (v: unknown): string => (Array.isArray(v) && v.length ? JSON.stringify(v).replace(/"/g, '"') : '');

/** Extra columns per kind, like `kubectl get` prints for Istio's CRDs. */
const COLUMNS: Record<string, Columns> = {
  VirtualService: { headers: ['GATEWAYS', 'HOSTS'], cells: (r) => { const s = r.spec as { gateways?: string[]; hosts?: string[] }; return [list(s.gateways), list(s.hosts)]; } },
  DestinationRule: { headers: ['HOST'], cells: (r) => [String((r.spec as { host?: string }).host ?? '')] },
  ServiceEntry: { headers: ['HOSTS', 'LOCATION', 'RESOLUTION'], cells: (r) => { const s = r.spec as { hosts?: string[]; location?: string; resolution?: string }; return [list(s.hosts), s.location ?? '', s.resolution ?? '']; } },
  PeerAuthentication: { headers: ['MODE'], cells: (r) => [String((r.spec as { mtls?: { mode?: string } }).mtls?.mode ?? '')] },
  AuthorizationPolicy: { headers: ['ACTION'], cells: (r) => [String((r.spec as { action?: string }).action ?? 'ALLOW')] },
  // Secrets come back without data (src/api/secrets.ts): type and key count, as kubectl prints them.
  Secret: { headers: ['TYPE', 'DATA'], cells: (r) => { const s = r as unknown as { type?: string; keys?: Record<string, string> }; return [s.type ?? '', String(Object.keys(s.keys ?? {}).length)]; } },
  WorkloadEntry: { headers: ['ADDRESS'], cells: (r) => [String((r.spec as { address?: string }).address ?? '')] },
};

/** `weft get KIND [NAME] [-n NS | -A] [-o yaml|json]`. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    output: { type: 'string', short: 'o' },
    'control-plane': { type: 'string' },
  } });
  const [kindWord, name] = positionals;
  if (!kindWord) throw new UsageError('which kind? e.g. weft get vs, weft get dr reviews -o yaml');
  const info = lookupKind(kindWord);
  if (!info) throw new UsageError(`unknown kind "${kindWord}" (try vs, dr, gw, se, we, wg, pa, ra, ap, telemetry, sidecar, envoyfilter, svc)`);
  const output = values.output;
  if (output !== undefined && output !== 'yaml' && output !== 'json' && output !== 'wide') throw new UsageError(`-o must be yaml, json or wide, not "${output}"`);
  const url = controlPlaneUrl(values['control-plane'], io.env);
  const client = clientFor(values['control-plane'], io);
  const ns = values.namespace ?? 'default';
  if (name) {
    const obj = await withControlPlane(url, () => client.get(info.kind, info.namespaced ? ns : undefined, name));
    if (output === 'yaml' || output === 'json') await printObjects(io, [obj], output, false);
    else io.out.write(render(info.kind, [obj], false));
    return EXIT.ok;
  }
  const all = values['all-namespaces'] ?? false;
  const items = await withControlPlane(url, () => client.list(info.kind, all || !info.namespaced ? { allNamespaces: true } : { namespace: ns }));
  if (output === 'yaml' || output === 'json') {
    await printObjects(io, items, output, true);
    return EXIT.ok;
  }
  if (items.length === 0) {
    io.err.write(all ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    return EXIT.ok;
  }
  io.out.write(render(info.kind, items, all && info.namespaced));
  return EXIT.ok;
}

function render(kind: string, items: Resource[], withNamespace: boolean): string {
  const cols = COLUMNS[kind];
  const headers = [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', ...(cols?.headers ?? []), 'AGE'];
  const rows = items.map((r) => [...(withNamespace ? [r.metadata.namespace ?? ''] : []), r.metadata.name, ...(cols?.cells(r) ?? []), age(r.metadata.creationTimestamp)]);
  return table(headers, rows);
}
