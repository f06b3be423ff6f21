// `weft proxy-config listeners|routes|clusters|endpoints|bootstrap|secret|all WORKLOAD[.NS]`, like istioctl:
// reads the proxy's own admin /config_dump (what it really runs, not what weftd meant to send).
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { Workload } from '../../model/index.js';
import { controlPlaneUrl, weftdRequest } from '../control-plane.js';
import { CliError, UsageError } from '../errors.js';
import { str, table, type CliIO } from '../io.js';
import { dumpSections, type DumpSections } from './proxy-config-dump.js';

const WHAT = ['listeners', 'listener', 'routes', 'route', 'clusters', 'cluster', 'endpoints', 'endpoint', 'bootstrap', 'secret', 'all'] as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    output: { type: 'string', short: 'o' },
    namespace: { type: 'string', short: 'n' },
    'control-plane': { type: 'string' },
  } });
  const [what, target] = positionals;
  if (!what || !(WHAT as readonly string[]).includes(what) || !target) {
    throw new UsageError('usage: weft proxy-config listeners|routes|clusters|endpoints|bootstrap|secret|all WORKLOAD[.NAMESPACE] [-o json|yaml]');
  }
  const api = controlPlaneUrl(values['control-plane'], io.env);
  const w = await findWorkload(api, target, values.namespace, io);
  const admin = `http://${w.address}:15000`;
  const dump = await fetchJson(`${admin}/config_dump`);
  const s = dumpSections(dump);
  const kind = what.replace(/s$/, '') as 'listener' | 'route' | 'cluster' | 'endpoint' | 'bootstrap' | 'secret' | 'all';
  if (values.output === 'json' || values.output === 'yaml') {
    const pick = kind === 'all' ? dump : kind === 'bootstrap' ? s.bootstrap : kind === 'secret' ? s.secrets : s[`${kind}s` as 'listeners'];
    io.out.write(values.output === 'json' ? JSON.stringify(pick, null, 2) + '\n' : stringify(pick, { lineWidth: 0 }));
    return 0;
  }
  if (values.output !== undefined) throw new UsageError('-o must be json or yaml');
  const sections: string[] = [];
  if (kind === 'cluster' || kind === 'all') sections.push(clustersTable(s));
  if (kind === 'listener' || kind === 'all') sections.push(listenersTable(s));
  if (kind === 'route' || kind === 'all') sections.push(routesTable(s));
  if (kind === 'endpoint' || kind === 'all') sections.push(endpointsTable(await fetchJson(`${admin}/clusters?format=json`).catch(() => undefined), s));
  if (kind === 'bootstrap') sections.push(stringify(s.bootstrap ?? {}, { lineWidth: 0 }));
  if (kind === 'secret') sections.push(stringify(s.secrets, { lineWidth: 0 }));
  io.out.write(sections.join('\n'));
  return 0;
}

async function fetchJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new CliError(`cannot reach the proxy admin at ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new CliError(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function findWorkload(api: string, target: string, ns: string | undefined, io: CliIO): Promise<Workload> {
  const { items } = await weftdRequest<{ items: Workload[] }>(api, 'GET', '/apis/weft.dev/v1/workloads', io);
  let name = target;
  let namespace = ns;
  const dot = target.lastIndexOf('.');
  if (!namespace && dot > 0 && !items.some((w) => w.name === target)) {
    name = target.slice(0, dot);
    namespace = target.slice(dot + 1);
  }
  const candidates = items.filter((w) => (!namespace || w.namespace === namespace) && (w.name === name || w.name.startsWith(name)));
  const exact = candidates.filter((w) => w.name === name);
  const pick = exact.length ? exact : candidates;
  if (pick.length === 0) throw new CliError(`no workload named ${target}${namespace ? ` in ${namespace}` : ''} (weft proxy-status lists them)`);
  if (pick.length > 1) throw new CliError(`${target} matches several workloads: ${pick.map((w) => `${w.name}.${w.namespace}`).join(', ')}`);
  return pick[0];
}

function clustersTable(s: DumpSections): string {
  const rows = s.clusters.map((c) => {
    const name = str(c.name);
    const [dir, port, subset, fqdn] = name.split('|');
    const type = str(c.type, c.cluster_type ? 'CUSTOM' : '');
    return name.includes('|') ? [fqdn || '', port ?? '', subset || '-', dir ?? '', type] : [name, '-', '-', '-', type];
  });
  return table(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE'], rows);
}

function listenersTable(s: DumpSections): string {
  const rows = s.listeners.map((l) => {
    const sa = ((l.address as { socket_address?: { address?: string; port_value?: number } } | undefined)?.socket_address) ?? {};
    const chains = (l.filter_chains as { filters?: { name?: string; typed_config?: Record<string, unknown> }[] }[] | undefined) ?? [];
    const dest = chains.flatMap((fc) => (fc.filters ?? []).map((f) => {
      const tc = f.typed_config ?? {};
      const rds = (tc.rds as { route_config_name?: string } | undefined)?.route_config_name;
      if (rds) return `Route: ${rds}`;
      if (tc.route_config) return `Inline Route: ${String((tc.route_config as { name?: string }).name ?? '')}`;
      if (tc.cluster) return `Cluster: ${str(tc.cluster)}`;
      return f.name ?? '';
    }));
    const match = l.use_original_dst ? 'ALL' : l.bind_to_port === false || (l.bind_to_port as { value?: boolean } | undefined)?.value === false ? 'Port handoff' : 'ALL';
    return [str(l.name), sa.address ?? '', String(sa.port_value ?? ''), match, [...new Set(dest)].join('; ') || '-'];
  });
  return table(['NAME', 'ADDRESS', 'PORT', 'MATCH', 'DESTINATION'], rows);
}

type Loose = Record<string, unknown>;

/** A header matcher as `name=value`, `name~regex`, `name^prefix`, `name present`; `!` when inverted. */
function headerMatch(h: Loose): string {
  const sm = (h.string_match as Loose | undefined) ?? {};
  const name = str(h.name);
  const not = h.invert_match ? '!' : '';
  const pick = (k: string): unknown => sm[k] ?? h[`${k}_match`];
  if (pick('exact') !== undefined) return `${not}${name}=${str(pick('exact'))}`;
  if (pick('prefix') !== undefined) return `${not}${name}^${str(pick('prefix'))}`;
  if (pick('suffix') !== undefined) return `${not}${name}$${str(pick('suffix'))}`;
  const re = (sm.safe_regex ?? h.safe_regex_match) as Loose | undefined;
  if (re) return `${not}${name}~${str(re.regex)}`;
  if (h.present_match !== undefined) return `${not}${name} present`;
  return `${not}${name}`;
}

function routeMatch(m: Loose): string {
  const path = m.prefix !== undefined ? `${str(m.prefix) || '/'}*` : m.path !== undefined ? str(m.path)
    : m.safe_regex ? `regex ${str((m.safe_regex as Loose).regex)}` : m.path_separated_prefix !== undefined ? `${str(m.path_separated_prefix)}/*` : '/*';
  const headers = ((m.headers as Loose[] | undefined) ?? []).map(headerMatch);
  const query = ((m.query_parameters as Loose[] | undefined) ?? []).map((q) => `?${str(q.name)}`);
  const extra = [...headers, ...query];
  return extra.length ? `${path} [${extra.join(', ')}]` : path;
}

/** Istio tags a route with the VirtualService it came from (metadata istio.config); else its name. */
function routeOrigin(r: Loose): string {
  const config = ((r.metadata as Loose | undefined)?.filter_metadata as Record<string, Loose> | undefined)?.istio?.config;
  const m = typeof config === 'string' ? /namespaces\/([^/]+)\/virtual-service\/([^/]+)/.exec(config) : null;
  if (m) return `${m[2]}.${m[1]}`;
  return str(r.name) || '-';
}

function routesTable(s: DumpSections): string {
  const rows: string[][] = [];
  for (const rc of s.routes) {
    for (const vh of (rc.virtual_hosts as { name?: string; domains?: string[]; routes?: Loose[] }[] | undefined) ?? []) {
      const domains = vh.domains ?? [];
      const shown = domains.length > 2 ? `${domains.slice(0, 2).join(', ')} + ${domains.length - 2} more...` : domains.join(', ');
      for (const r of vh.routes ?? []) rows.push([str(rc.name), vh.name ?? '', shown, routeMatch((r.match as Loose | undefined) ?? {}), routeOrigin(r)]);
    }
  }
  return table(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], rows);
}

function endpointsTable(clusters: unknown, s: DumpSections): string {
  const rows: string[][] = [];
  const statuses = (clusters as { cluster_statuses?: { name: string; host_statuses?: { address?: { socket_address?: { address?: string; port_value?: number } }; health_status?: { eds_health_status?: string; failed_outlier_check?: boolean } }[] }[] } | undefined)?.cluster_statuses;
  if (statuses) {
    for (const c of statuses) {
      for (const h of c.host_statuses ?? []) {
        const sa = h.address?.socket_address ?? {};
        rows.push([`${sa.address}:${sa.port_value}`, h.health_status?.eds_health_status ?? 'HEALTHY', h.health_status?.failed_outlier_check ? 'FAILED' : 'OK', c.name]);
      }
    }
  } else {
    for (const cla of s.endpoints) {
      for (const le of (cla.endpoints as { lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } } }; health_status?: string }[] }[] | undefined) ?? []) {
        for (const e of le.lb_endpoints ?? []) {
          const sa = e.endpoint?.address?.socket_address ?? {};
          rows.push([`${sa.address}:${sa.port_value}`, e.health_status ?? 'HEALTHY', 'OK', str(cla.cluster_name)]);
        }
      }
    }
  }
  return table(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows);
}
