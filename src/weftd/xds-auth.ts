// Who may ask weftd for what over xDS (Istio's istiod: the client certificate's SPIFFE identity must
// be the identity the node claims). The xDS server (src/xds) knows nothing of this: it calls
// `authenticate` once per stream; the source asks `secretsRefusal` before serving gateway secrets.
import type { NodeInfo, XdsAuthResult, XdsPeer } from '../xds/types.js';
import type { Workload } from '../model/index.js';
import { parseSpiffe, type SpiffeId } from '../security/spiffe.js';
import { identifyProxy, type ProxyIdentity } from './proxies.js';

export interface XdsAuthOptions {
  /** The xDS port is plaintext (--insecure-xds): no client certificates exist. */
  plaintext: boolean;
  /** The trust domain and its aliases: a certificate of any of them is ours. */
  trustDomains: () => readonly string[];
  lookup: (ns: string, name: string) => Workload | undefined;
  log: (line: string) => void;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The SPIFFE identity a stream proved (its principal), if any. */
export function provenIdentity(peer: XdsPeer | undefined): SpiffeId | undefined {
  return peer?.principal ? parseSpiffe(peer.principal) : undefined;
}

/** Every namespace and service account the node claims, wherever it claims them. */
function claims(node: NodeInfo, proxy: ProxyIdentity): { namespaces: string[]; serviceAccounts: string[] } {
  const namespaces = new Set([proxy.namespace]);
  const parts = node.id.split('~');
  const podDotNs = parts.length === 4 ? parts[2] : '';
  const dot = podDotNs.lastIndexOf('.');
  if (dot > 0) namespaces.add(podDotNs.slice(dot + 1));
  const mdNs = str(node.metadata?.NAMESPACE);
  if (mdNs !== undefined) namespaces.add(mdNs);
  const serviceAccounts = new Set<string>();
  const mdSa = str(node.metadata?.SERVICE_ACCOUNT);
  if (mdSa !== undefined) serviceAccounts.add(mdSa);
  // A registered workload of that name is the one this node says it is: its account must be proven too.
  if (proxy.workload) serviceAccounts.add(proxy.workload.serviceAccount);
  return { namespaces: [...namespaces], serviceAccounts: [...serviceAccounts] };
}

export function createXdsAuthenticator(o: XdsAuthOptions): (node: NodeInfo, peer: XdsPeer) => XdsAuthResult {
  return (node, peer) => {
    const proxy = identifyProxy(node, o.lookup);
    const claimed = `${proxy.namespace}/${proxy.serviceAccount}`;
    const refuse = (proven: string, why: string): XdsAuthResult => {
      o.log(`xds: refused node "${node.id}" from ${peer.address}: claims ${proxy.kind} ${proxy.namespace}/${proxy.name} (identity ${claimed}), proven ${proven}: ${why}`);
      return { denied: `node ${proxy.namespace}/${proxy.name} claims identity ${claimed}, but the client certificate proves ${proven}: ${why}` };
    };
    const cert = peer.certificate;
    if (!cert) {
      // Plaintext xDS is loopback only and explicit; it is served as claimed, but never with secrets.
      if (o.plaintext) return {};
      return refuse('nothing', 'weftd serves xDS over TLS and requires a workload certificate from its CA');
    }
    const ids = cert.uriSans.map(parseSpiffe).filter((x): x is SpiffeId => x !== undefined);
    const domains = o.trustDomains();
    const ours = ids.filter((id) => domains.includes(id.trustDomain));
    if (ids.length !== 1 || ours.length !== 1) {
      const sans = cert.uriSans.join(', ') || 'no URI SAN';
      return refuse(sans, ids.length > 1 ? 'the certificate holds several SPIFFE identities' : `the certificate holds no SPIFFE identity of trust domain ${domains.join(' or ')}`);
    }
    const id = ours[0];
    const proven = `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
    const c = claims(node, proxy);
    const badNs = c.namespaces.find((ns) => ns !== id.namespace);
    if (badNs !== undefined) return refuse(proven, `namespace ${badNs} is not the certificate's namespace ${id.namespace}`);
    const badSa = c.serviceAccounts.find((sa) => sa !== id.serviceAccount);
    if (badSa !== undefined) return refuse(proven, `service account ${badSa} is not the certificate's service account ${id.serviceAccount}`);
    return { principal: proven };
  };
}

/**
 * Why this stream may not have the gateway secrets of `proxy` (undefined: it may). Secrets go only
 * to a registered gateway whose stream proved, by certificate, the gateway's namespace and account.
 * `peer` undefined: an in-process caller, not a stream (the xDS server always passes the stream's peer).
 */
export function secretsRefusal(proxy: ProxyIdentity, peer: XdsPeer | undefined, plaintext: boolean): string | undefined {
  if (proxy.kind !== 'gateway') return `it is a ${proxy.kind}, not a gateway`;
  if (!proxy.workload) return `no gateway workload ${proxy.namespace}/${proxy.name} is registered`;
  if (!peer) return undefined;
  if (plaintext) return 'xDS is plaintext (--insecure-xds): secrets are never sent without a client certificate';
  const id = provenIdentity(peer);
  if (!id) return 'the stream proved no identity (no client certificate)';
  if (id.namespace !== proxy.workload.namespace || id.serviceAccount !== proxy.workload.serviceAccount) {
    return `its certificate is ${peer?.principal ?? '?'}, not the gateway's ${proxy.workload.namespace}/${proxy.workload.serviceAccount}`;
  }
  return undefined;
}
