// Istio mesh config for `weft up --mesh-config FILE`: the fields Weft reads (extensionProviders, for
// AuthorizationPolicy CUSTOM; trustDomain and trustDomainAliases; localityLbSetting). Accepted as Istio users hold it: a MeshConfig document
// (`extensionProviders:` at the top), an IstioOperator (`spec.meshConfig`), or the `istio` ConfigMap
// (`data.mesh`, a YAML string). Errors name the file, line and field.
import { LineCounter, parseDocument } from 'yaml';
import type { ExtensionProvider, LocalityLoadBalancerSetting } from '../model/index.js';
import type { PathSeg } from './diagnostics.js';
import { dnsName } from './schema/checks.js';
import { Ctx, type Schema, bool, dur, int, isObj, list, obj, str, strList, strMap, walk } from './schema/dsl.js';
import { localityLbSetting } from './schema/networking.js';

const authzHttp: Schema = obj({
  service: str(), port: int(1, 65535), timeout: dur(1), pathPrefix: str(), failOpen: bool(), clearRouteCache: bool(), statusOnError: str(),
  includeHeadersInCheck: strList(), includeRequestHeadersInCheck: strList(), includeAdditionalHeadersInCheck: strMap(),
  headersToUpstreamOnAllow: strList(), headersToDownstreamOnDeny: strList(), headersToDownstreamOnAllow: strList(),
  includeRequestBodyInCheck: obj({ maxRequestBytes: int(0), allowPartialMessage: bool(), packAsBytes: bool() }),
}, { required: ['service', 'port'] });
const authzGrpc: Schema = obj({
  service: str(), port: int(1, 65535), timeout: dur(1), failOpen: bool(), clearRouteCache: bool(), statusOnError: str(), pathPrefix: str(),
  includeRequestBodyInCheck: obj({ maxRequestBytes: int(0), allowPartialMessage: bool(), packAsBytes: bool() }),
}, { required: ['service', 'port'] });

const provider: Schema = obj({
  name: str({ check: (v, path, ctx) => { if (v === '') ctx.error(path, 'WEFT-REQUIRED', 'name must not be empty'); } }),
  envoyExtAuthzHttp: authzHttp, envoyExtAuthzGrpc: authzGrpc,
  // Providers Weft does not implement are accepted (Istio's telemetry/tracing providers) and ignored.
  prometheus: obj({}), stackdriver: obj({}), envoyFileAccessLog: obj({}), envoyOtelAls: obj({}), envoyHttpAls: obj({}), envoyTcpAls: obj({}),
  opentelemetry: obj({}), zipkin: obj({}), lightstep: obj({}), datadog: obj({}), skywalking: obj({}), opencensus: obj({}),
}, {
  required: ['name'],
  check: (v, path, ctx) => {
    const h = (v as { envoyExtAuthzHttp?: { service?: unknown } }).envoyExtAuthzHttp;
    if (h && typeof h.service === 'string') dnsName(h.service.includes('/') ? h.service.slice(h.service.indexOf('/') + 1) : h.service, [...path, 'envoyExtAuthzHttp', 'service'], ctx);
  },
});

/** extensionProviders (checkMeshSettings reads the others Weft uses); other MeshConfig fields are accepted without being checked. */
export function checkMeshConfig(mesh: unknown, base: PathSeg[], ctx: Ctx): ExtensionProvider[] {
  if (!isObj(mesh)) {
    ctx.error(base, 'WEFT-TYPE', 'expected a MeshConfig object');
    return [];
  }
  const providers = mesh.extensionProviders;
  if (providers === undefined) return [];
  walk(list(provider), providers, [...base, 'extensionProviders'], ctx);
  if (!Array.isArray(providers)) return [];
  const seen = new Set<string>();
  providers.forEach((p, i) => {
    const name = isObj(p) ? p.name : undefined;
    if (typeof name !== 'string') return;
    if (seen.has(name)) ctx.error([...base, 'extensionProviders', i, 'name'], 'WEFT-DUPLICATE', `extension provider "${name}" is defined twice`);
    seen.add(name);
  });
  return providers as ExtensionProvider[];
}

/** A SPIFFE trust domain name: lowercase letters, digits, '.', '-', '_' (spiffe.io's rule). */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

function trustDomainName(v: unknown, path: PathSeg[], ctx: Ctx): v is string {
  if (typeof v !== 'string') {
    ctx.error(path, 'WEFT-TYPE', 'expected a string (a trust domain such as cluster.local)');
    return false;
  }
  if (!TRUST_DOMAIN.test(v)) {
    ctx.error(path, 'WEFT-TRUST-DOMAIN', `invalid trust domain ${JSON.stringify(v)}: lowercase letters, digits, ".", "-" and "_" only (wildcards are not supported)`);
    return false;
  }
  return true;
}

export interface MeshSettings {
  trustDomain?: string;
  trustDomainAliases?: string[];
  localityLbSetting?: LocalityLoadBalancerSetting;
}

/** trustDomain, trustDomainAliases and localityLbSetting of a MeshConfig object (absent fields stay absent). */
export function checkMeshSettings(mesh: unknown, base: PathSeg[], ctx: Ctx): MeshSettings {
  if (!isObj(mesh)) return {};
  const out: MeshSettings = {};
  if (mesh.trustDomain !== undefined && trustDomainName(mesh.trustDomain, [...base, 'trustDomain'], ctx)) out.trustDomain = mesh.trustDomain;
  if (mesh.trustDomainAliases !== undefined) {
    if (!Array.isArray(mesh.trustDomainAliases)) ctx.error([...base, 'trustDomainAliases'], 'WEFT-TYPE', 'expected a list of trust domains');
    else {
      const ok = mesh.trustDomainAliases.filter((a, i): a is string => trustDomainName(a, [...base, 'trustDomainAliases', i], ctx));
      if (ok.length === mesh.trustDomainAliases.length) out.trustDomainAliases = ok;
    }
  }
  if (mesh.localityLbSetting !== undefined) {
    const before = ctx.issues.length;
    walk(localityLbSetting(), mesh.localityLbSetting, [...base, 'localityLbSetting'], ctx);
    if (!ctx.issues.slice(before).some((i) => i.severity === 'error')) out.localityLbSetting = mesh.localityLbSetting as LocalityLoadBalancerSetting;
  }
  return out;
}

export interface LoadedMeshConfig extends MeshSettings { extensionProviders: ExtensionProvider[] }

/** Parses mesh config text; throws an Error listing every problem as `file:line: field: message`. */
export function parseMeshConfig(text: string, file: string): LoadedMeshConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) throw new Error(doc.errors.map((e) => `${file}:${lc.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`).join('\n'));
  const root: unknown = doc.toJS();
  const ctx = new Ctx();
  let mesh: unknown = root;
  let base: PathSeg[] = [];
  let innerLine: number | undefined; // data.mesh's line in a ConfigMap: issues inside it are reported there
  if (isObj(root) && root.kind === 'IstioOperator') {
    mesh = isObj(root.spec) ? root.spec.meshConfig ?? {} : {};
    base = ['spec', 'meshConfig'];
  } else if (isObj(root) && root.kind === 'ConfigMap') {
    const data = isObj(root.data) ? root.data : {};
    if (typeof data.mesh !== 'string') throw new Error(`${file}: ConfigMap ${String(isObj(root.metadata) ? root.metadata.name : '')} has no data.mesh (Istio keeps the mesh config there)`);
    const node = doc.getIn(['data', 'mesh'], true) as { range?: [number, number, number] } | undefined;
    const m = parseDocument(data.mesh);
    if (m.errors.length) throw new Error(`${file}: data.mesh: ${m.errors[0].message.split('\n')[0]}`);
    mesh = m.toJS();
    innerLine = node?.range ? lc.linePos(node.range[0]).line : 0;
    base = [];
  }
  const providers = checkMeshConfig(mesh, base, ctx);
  const settings = checkMeshSettings(mesh, base, ctx);
  const errors = ctx.issues.filter((i) => i.severity === 'error');
  if (errors.length) {
    const where = (path: PathSeg[]): string => {
      if (innerLine !== undefined) return `${file}:${innerLine}: data.mesh: ${formatPath(path)}`;
      const n = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      return `${file}${n?.range ? `:${lc.linePos(n.range[0]).line}` : ''}: ${formatPath(path)}`;
    };
    throw new Error(errors.map((e) => `${where(e.path)}: ${e.message}`).join('\n'));
  }
  return { extensionProviders: providers, ...settings };
}

function formatPath(path: PathSeg[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('') || '(document)';
}
