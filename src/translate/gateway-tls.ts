// Gateway TLS (Istio's ServerTLSSettings on Gateway servers), translated as Istio does it:
//  - HTTPS/TLS servers with mode SIMPLE, MUTUAL or ISTIO_MUTUAL: one filter chain per server with
//    `filter_chain_match.server_names` = the server's hosts, a DownstreamTlsContext and an HCM on RDS
//    `https.<port>.<portName>.<gateway>.<namespace>`. Certificates come by SDS over ADS, named
//    `kubernetes://<credentialName>` (CA: `kubernetes://<credentialName>-cacert`), looked up in the
//    gateway proxy's own namespace; ISTIO_MUTUAL uses the proxy's workload cert (`default`/`ROOTCA`).
//  - PASSTHROUGH: one chain per VirtualService `tls` route match, `server_names` = its sniHosts,
//    tcp_proxy to the destination (no termination).
//  - HTTP servers with `tls.httpsRedirect`: every request is answered 301 to https (Envoy's
//    `require_tls: ALL`, spelled here as a redirect route too).
// A server whose credential is missing or unusable is left out (the others are served), as Istio does.
import type { Resource, SecretSpec, Server, ServerTLSSettings } from '../model/index.js';
import { gatewayHostPort, intersectHosts, isHttpProtocol, parseProtocol, resourcesOfKind, type Registry } from '../registry/index.js';
import { tlsMaterial, tlsPairProblem } from '../config/index.js';
import type { ProxyInfo } from './proxy.js';
import { ADS_CONFIG_SOURCE, TYPES, socketAddress, type Obj } from './envoy.js';
import { filterNeeds, hcmFilter, httpConnectionManager, httpFilters } from './filters.js';
import { gatewayRouteConfig, type GatewayServerRef } from './rds.js';
import { destinationCluster } from './route-action.js';
import { outboundListenerName } from './names.js';
import { AGENT_SDS, DOWNSTREAM_TLS, TLS_TRANSPORT_SOCKET, istioCommonTls } from './security/tls.js';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const credentialSecretName = (name: string): string => `kubernetes://${name}`;
export const credentialCaSecretName = (name: string): string => `kubernetes://${name}-cacert`;
export const httpsRouteName = (port: number, portName: string, gw: Resource): string =>
  `https.${port}.${portName}.${gw.metadata.name}.${gw.metadata.namespace ?? 'default'}`;

const TLS_VERSIONS: Record<string, string> = { TLS_AUTO: 'TLS_AUTO', TLSV1_0: 'TLSv1_0', TLSV1_1: 'TLSv1_1', TLSV1_2: 'TLSv1_2', TLSV1_3: 'TLSv1_3' };

/** A gateway server's TLS material as weftd resolved it, or why it cannot be served. */
export type Credential = { cert: string; key: string; ca?: string } | { error: string };

/** Istio's lookup: `credentialName` in the gateway workload's namespace; the CA from its ca.crt or `<name>-cacert`. */
export function resolveCredential(registry: Registry, namespace: string, name: string, needCa: boolean): Credential {
  return registry.memo(`gw-credential|${namespace}|${name}|${needCa}`, () => {
    const find = (n: string): Resource<SecretSpec> | undefined => resourcesOfKind<SecretSpec>(registry.snapshot, 'Secret')
      .find((s) => s.metadata.name === n && (s.metadata.namespace ?? 'default') === namespace);
    const s = find(name);
    if (!s) return { error: `secret ${namespace}/${name} not found (create it with: weft create secret tls ${name} --cert FILE --key FILE -n ${namespace})` };
    const m = tlsMaterial(s.spec.data ?? {});
    let ca = m.ca;
    if (!ca && needCa) {
      const c = find(`${name}-cacert`);
      const cm = c ? tlsMaterial(c.spec.data ?? {}) : undefined;
      ca = cm?.ca ?? cm?.cert;
    }
    if (!m.cert || !m.key) return { error: `secret ${namespace}/${name} has no ${m.cert ? m.keyKey : m.certKey}` };
    if (needCa && !ca) return { error: `MUTUAL TLS needs a CA: secret ${namespace}/${name} has no ca.crt and there is no secret ${namespace}/${name}-cacert` };
    const problem = tlsPairProblem({ cert: m.cert, key: m.key, ca });
    if (problem) return { error: `secret ${namespace}/${name}: ${problem.field} ${problem.message}` };
    return { cert: m.cert, key: m.key, ca };
  });
}

function tlsParams(t: ServerTLSSettings): Obj | undefined {
  const p: Obj = {};
  if (t.minProtocolVersion) p.tls_minimum_protocol_version = TLS_VERSIONS[t.minProtocolVersion] ?? t.minProtocolVersion;
  if (t.maxProtocolVersion) p.tls_maximum_protocol_version = TLS_VERSIONS[t.maxProtocolVersion] ?? t.maxProtocolVersion;
  if (t.cipherSuites?.length) p.cipher_suites = [...t.cipherSuites];
  return Object.keys(p).length ? p : undefined;
}

/** The DownstreamTlsContext transport socket of a terminating server. */
function downstreamTls(t: ServerTLSSettings): Obj {
  const mode = t.mode ?? 'SIMPLE';
  let common: Obj;
  if (mode === 'ISTIO_MUTUAL') common = istioCommonTls([], ['h2', 'http/1.1']);
  else if (!t.credentialName) {
    // Files on the gateway's host, served by its own agent as Istio does (`file-cert:CERT~KEY`, `file-root:CA`).
    common = { alpn_protocols: ['h2', 'http/1.1'], tls_certificate_sds_secret_configs: [{ name: `file-cert:${t.serverCertificate ?? ''}~${t.privateKey ?? ''}`, sds_config: AGENT_SDS }] };
    if ((mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && t.caCertificates) {
      common.combined_validation_context = { default_validation_context: {}, validation_context_sds_secret_config: { name: `file-root:${t.caCertificates}`, sds_config: AGENT_SDS } };
    }
  } else {
    const name = t.credentialName ?? '';
    common = { alpn_protocols: ['h2', 'http/1.1'], tls_certificate_sds_secret_configs: [{ name: credentialSecretName(name), sds_config: ADS_CONFIG_SOURCE }] };
    if (mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') { // OPTIONAL_MUTUAL: verified when presented, not required
      const sans = (t.subjectAltNames ?? []).map((s) => ({ san_type: s.startsWith('spiffe://') ? 'URI' : 'DNS', matcher: { exact: s } }));
      common.combined_validation_context = {
        default_validation_context: sans.length ? { match_typed_subject_alt_names: sans } : {},
        validation_context_sds_secret_config: { name: credentialCaSecretName(name), sds_config: ADS_CONFIG_SOURCE },
      };
    }
  }
  const params = tlsParams(t);
  if (params) common.tls_params = params;
  const mutual = mode === 'MUTUAL' || mode === 'ISTIO_MUTUAL';
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': DOWNSTREAM_TLS, common_tls_context: common, require_client_certificate: { value: mutual } } };
}

/** SNI names of a server: its hosts without namespace prefixes; none (match any) when one is `*`. */
function serverNames(hosts: readonly string[]): string[] {
  const names = hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h));
  return names.includes('*') ? [] : [...new Set(names)].sort();
}

const terminates = (s: Server): boolean => {
  const m = s.tls?.mode ?? 'SIMPLE';
  return m === 'SIMPLE' || m === 'MUTUAL' || m === 'ISTIO_MUTUAL' || m === 'OPTIONAL_MUTUAL';
};

export interface GatewayTlsResult {
  /** Listeners for ports with TLS servers (`0.0.0.0_<port>`). */
  listeners: Obj[];
  routes: Obj[];
  /** SDS secrets this proxy may receive, by `kubernetes://` name. */
  secrets: Map<string, Obj>;
  /** Servers left out, with why (for weftd's log). */
  skipped: string[];
}

function sdsCertificate(name: string, cert: string, key: string): Obj {
  return { name, tls_certificate: { certificate_chain: { inline_string: cert }, private_key: { inline_string: key } } };
}

/** Every TLS server of the Gateways selecting this proxy (HTTPS/TLS protocol), by port. */
export function tlsServersByPort(registry: Registry, proxy: ProxyInfo): Map<number, GatewayServerRef[]> {
  const out = new Map<number, GatewayServerRef[]>();
  for (const gateway of registry.gatewaysFor(proxy.labels)) {
    for (const server of gateway.spec.servers ?? []) {
      if (!server?.port || isHttpProtocol(parseProtocol(server.port.protocol))) continue;
      const p = parseProtocol(server.port.protocol);
      if (p !== 'HTTPS' && p !== 'TLS') continue;
      let list = out.get(server.port.number);
      if (!list) out.set(server.port.number, (list = []));
      list.push({ gateway, server });
    }
  }
  return out;
}

/** PASSTHROUGH chains: VirtualService `tls` routes bound to this gateway, by sniHosts within the server's hosts. */
function passthroughChains(registry: Registry, proxy: ProxyInfo, port: number, ref: GatewayServerRef): Obj[] {
  const gwNs = ref.gateway.metadata.namespace ?? 'default';
  const gwKey = `${gwNs}/${ref.gateway.metadata.name}`;
  const hosts = serverNames(ref.server.hosts ?? []);
  const chains: Obj[] = [];
  for (const vs of registry.virtualServices(proxy.namespace, gwKey)) {
    const vsNamespace = vs.metadata.namespace ?? 'default';
    for (const route of vs.spec.tls ?? []) {
      const sni = (route.match ?? []).filter((m) => (m.port === undefined || m.port === port) && (!m.gateways?.length || m.gateways.includes(gwKey) || m.gateways.includes(ref.gateway.metadata.name)))
        .flatMap((m) => m.sniHosts ?? [])
        .map((h) => (hosts.length === 0 ? h : hosts.map((s) => intersectHosts(s, h)).find((x) => x) ?? ''))
        .filter((h) => h !== '');
      const dests = (route.route ?? []).filter((d, _i, all) => !!d.destination?.host && (all.length === 1 || (d.weight ?? 0) > 0));
      if (sni.length === 0 || dests.length === 0) continue;
      const ctx = { registry, proxyNamespace: proxy.namespace, vsNamespace, listenerPort: port, flavor: 'envoy' as const };
      const statPrefix = `outbound|${port}||${sni[0]}`;
      const tcp: Obj = dests.length === 1
        ? { '@type': TYPES.tcpProxy, stat_prefix: statPrefix, cluster: destinationCluster(dests[0].destination, ctx) }
        : { '@type': TYPES.tcpProxy, stat_prefix: statPrefix, weighted_clusters: { clusters: dests.map((d) => ({ name: destinationCluster(d.destination, ctx), weight: d.weight ?? 0 })) } };
      chains.push({ filter_chain_match: { server_names: [...new Set(sni)].sort(), transport_protocol: 'tls' }, filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: tcp }] });
    }
  }
  return chains;
}

/** Listeners, route configs and SDS secrets for the TLS servers (HTTPS/TLS protocol) of this gateway proxy. */
export function gatewayTls(registry: Registry, proxy: ProxyInfo, authzHttp: readonly Obj[]): GatewayTlsResult {
  const res: GatewayTlsResult = { listeners: [], routes: [], secrets: new Map(), skipped: [] };
  const byPort = tlsServersByPort(registry, proxy);
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const chains: Obj[] = [];
    const seenNames = new Set<string>();
    for (const ref of byPort.get(port) ?? []) {
      const { gateway, server } = ref;
      const where = `Gateway ${gateway.metadata.namespace ?? 'default'}/${gateway.metadata.name} server ${server.port.name ?? port}`;
      const t = server.tls ?? {};
      if (t.mode === 'PASSTHROUGH' || t.mode === 'AUTO_PASSTHROUGH') {
        chains.push(...passthroughChains(registry, proxy, port, ref));
        continue;
      }
      if (!terminates(server)) continue;
      if (parseProtocol(server.port.protocol) === 'TLS') {
        res.skipped.push(`${where}: TLS termination with tcp routes is not supported yet; use protocol HTTPS or mode PASSTHROUGH`);
        continue;
      }
      if (t.mode !== 'ISTIO_MUTUAL' && !t.credentialName && !(t.serverCertificate && t.privateKey)) {
        res.skipped.push(`${where}: tls needs credentialName, or serverCertificate and privateKey`);
        continue;
      }
      if (t.mode !== 'ISTIO_MUTUAL' && t.credentialName) {
        const cred = resolveCredential(registry, proxy.namespace, t.credentialName, t.mode === 'MUTUAL' || t.mode === 'OPTIONAL_MUTUAL');
        if ('error' in cred) {
          res.skipped.push(`${where}: tls.credentialName ${t.credentialName}: ${cred.error}; this server is not served`);
          continue;
        }
        const certName = credentialSecretName(t.credentialName);
        res.secrets.set(certName, sdsCertificate(certName, cred.cert, cred.key));
        if ((t.mode === 'MUTUAL' || t.mode === 'OPTIONAL_MUTUAL') && cred.ca) {
          const caName = credentialCaSecretName(t.credentialName);
          res.secrets.set(caName, { name: caName, validation_context: { trusted_ca: { inline_string: cred.ca } } });
        }
      }
      const names = serverNames(server.hosts ?? []);
      const key = names.join(',');
      if (seenNames.has(key)) {
        res.skipped.push(`${where}: hosts ${key || '*'} are already served on port ${port} by another server (Istio: conflicting server)`);
        continue;
      }
      seenNames.add(key);
      const rds = httpsRouteName(port, server.port.name ?? String(port), gateway);
      const rc = { ...gatewayRouteConfig(registry, proxy, port, [ref]), name: rds };
      res.routes.push(rc);
      chains.push({
        filter_chain_match: names.length ? { server_names: names, transport_protocol: 'tls' } : { transport_protocol: 'tls' },
        transport_socket: downstreamTls(t),
        filters: [hcmFilter(httpConnectionManager({
          statPrefix: `outbound_${outboundListenerName(port)}`, rds,
          httpFilters: [...authzHttp, ...httpFilters('gateway', filterNeeds([rc]))], useRemoteAddress: true,
        }))],
        name: rds,
      });
    }
    if (chains.length === 0) continue;
    res.listeners.push({
      name: outboundListenerName(port),
      address: socketAddress('0.0.0.0', gatewayHostPort(registry.snapshot.mesh, port)),
      listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
      filter_chains: chains,
      traffic_direction: 'OUTBOUND',
    });
  }
  return res;
}

/** Istio's `require_tls: ALL` for httpsRedirect servers, also as a 301 redirect route (what the sidecar router serves). */
export function withHttpsRedirects(rc: Obj): Obj {
  const vhosts = rc.virtual_hosts as Obj[] | undefined;
  if (!vhosts?.some((v) => v.require_tls === 'ALL')) return rc;
  return {
    ...rc,
    virtual_hosts: vhosts.map((v) => (v.require_tls !== 'ALL' ? v : {
      ...v, routes: [{ name: 'https-redirect', match: { prefix: '/' }, redirect: { https_redirect: true, response_code: 'MOVED_PERMANENTLY' } }],
    })),
  };
}

/** Adds the TLS listeners; a port that also has plaintext (HTTP) servers keeps one listener, plaintext chain first. */
export function mergeListeners(plain: readonly Obj[], tls: readonly Obj[]): Obj[] {
  const byName = new Map<string, Obj>(plain.map((l) => [String(l.name), l]));
  for (const l of tls) {
    const p = byName.get(String(l.name));
    byName.set(String(l.name), p ? { ...p, listener_filters: l.listener_filters, filter_chains: [...(p.filter_chains as Obj[]), ...(l.filter_chains as Obj[])] } : l);
  }
  return [...byName.values()];
}
