import { parseArgs } from 'node:util';
import type { ProxyStatus } from '../../xds/types.js';
import { TYPE } from '../../xds/protos.js';
import { controlPlaneUrl, weftdRequest } from '../control-plane.js';
import { str, table, type CliIO } from '../io.js';

const COLUMNS: [string, string][] = [['CDS', TYPE.cluster], ['LDS', TYPE.listener], ['EDS', TYPE.endpoint], ['RDS', TYPE.route]];

/** `weft proxy-status`: like istioctl, one row per connected proxy, sync state per xDS type. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'control-plane': { type: 'string' }, output: { type: 'string', short: 'o' } } });
  const api = controlPlaneUrl(values['control-plane'], io.env);
  const { items } = await weftdRequest<{ items: ProxyStatus[] }>(api, 'GET', '/apis/weft.dev/v1/proxystatus', io);
  if (values.output === 'json') {
    io.out.write(JSON.stringify(items, null, 2) + '\n');
    return 0;
  }
  const rows = items.map((p) => {
    const ns = str(p.node.metadata.NAMESPACE);
    const name = str(p.node.metadata.WORKLOAD_NAME, p.node.id);
    const cells = COLUMNS.map(([, url]) => {
      const t = p.types.find((x) => x.typeUrl === url);
      if (!t) return 'NOT SENT';
      return t.status === 'NACKED' ? `NACKED (${t.sentVersion})` : t.status;
    });
    const version = p.types.find((t) => t.typeUrl === TYPE.cluster)?.ackedVersion ?? '';
    return [ns ? `${name}.${ns}` : name, ...cells, p.node.userAgent ?? '', version];
  }).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  io.out.write(table(['NAME', ...COLUMNS.map(([c]) => c), 'AGENT', 'VERSION'], rows));
  return 0;
}
