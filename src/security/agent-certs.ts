// Glue between the proxy agent and its sidecar: the agent obtains and rotates the workload
// certificate (WorkloadCertClient) and hands it to the proxy as local SDS secrets `default` and
// `ROOTCA` (what Istio's agent serves Envoy over its local SDS socket). Nothing here leaves the process.
import * as grpc from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';
import { TYPE } from '../xds/protos.js';
import { WorkloadCertClient, type WorkloadCert } from './workload-cert.js';
import { requestJson } from './http-json.js';

/** Istio's SDS resource names. */
export const WORKLOAD_SECRET = 'default';
export const ROOT_SECRET = 'ROOTCA';

export interface AgentCertOptions {
  apiUrl: string;
  joinToken: string;
  namespace: string;
  serviceAccount: string;
  ttlSeconds?: number;
  /** From a trust bundle the caller already has. */
  trustDomain?: string;
}

export function secretsOf(c: WorkloadCert): Map<string, object> {
  return new Map<string, object>([
    [WORKLOAD_SECRET, { name: WORKLOAD_SECRET, tls_certificate: { certificate_chain: { inline_string: c.certChainPem }, private_key: { inline_string: c.keyPem } } }],
    [ROOT_SECRET, { name: ROOT_SECRET, validation_context: { trusted_ca: { inline_string: c.rootPem } } }],
  ]);
}

/** Gets the first certificate before the proxy takes traffic; failures leave the proxy without mTLS (logged). */
export async function startAgentCerts(
  o: AgentCertOptions,
  proxy: { update(typeUrl: string, r: ReadonlyMap<string, object>): { ok: boolean; error?: string } },
  log: (line: string) => void,
  /** Also told of every certificate (first and rotated), e.g. the xDS channel's XdsCertificateProvider. */
  alsoOnCert?: (c: WorkloadCert) => void,
): Promise<WorkloadCertClient | undefined> {
  const client = new WorkloadCertClient({
    ...o, log,
    onCert: (c) => {
      const r = proxy.update(TYPE.secret, secretsOf(c));
      if (!r.ok) log(`certificate not installed: ${r.error ?? ''}`);
      alsoOnCert?.(c);
    },
  });
  try {
    const c = await client.start();
    log(`workload certificate ${c.spiffe} serial ${c.serial}, valid until ${c.notAfter}`);
    return client;
  } catch (e) {
    client.stop();
    log(`no workload certificate, mTLS off for this proxy: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * The workload certificate the xDS channel presents to weftd (which authenticates xDS clients by
 * it). grpc-js reads it at every new connection, so a reconnect after a rotation presents the new one.
 */
export class XdsCertificateProvider implements experimental.CertificateProvider {
  private ca: experimental.CaCertificateUpdate | undefined;
  private identity: experimental.IdentityCertificateUpdate | undefined;
  private readonly caListeners = new Set<experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();

  constructor(rootPem: string) {
    this.ca = { caCertificate: Buffer.from(rootPem) };
  }

  update(c: WorkloadCert): void {
    this.identity = { certificate: Buffer.from(c.certChainPem), privateKey: Buffer.from(c.keyPem) };
    for (const l of this.identityListeners) l(this.identity);
  }

  addCaCertificateListener(l: experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(l);
    if (this.ca) l(this.ca);
  }

  removeCaCertificateListener(l: experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(l);
  }

  addIdentityCertificateListener(l: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(l);
    if (this.identity) l(this.identity);
  }

  removeIdentityCertificateListener(l: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(l);
  }
}

/**
 * xDS channel credentials: TLS verified against weftd's root, presenting the workload certificate
 * of `identity` (mutual TLS; weftd requires it), or plaintext when there is no root.
 */
export function xdsCredentials(rootPem: string | undefined, identity?: XdsCertificateProvider): grpc.ChannelCredentials | undefined {
  if (!rootPem) return undefined;
  if (!identity) return grpc.credentials.createSsl(Buffer.from(rootPem));
  return experimental.createCertificateProviderChannelCredentials(identity, identity);
}

/** weftd's trust bundle (open endpoint): trust domain, root certificate, whether xDS is TLS. */
export async function fetchTrustBundle(apiUrl: string): Promise<{ trustDomain: string; rootCert: string; xdsTls: boolean }> {
  const res = await requestJson(`${apiUrl}/apis/weft.dev/v1/trustbundle`, { timeoutMs: 10_000 });
  if (!res.ok) throw new Error(`trust bundle from ${apiUrl}: HTTP ${res.status}`);
  return res.body as unknown as { trustDomain: string; rootCert: string; xdsTls: boolean };
}
