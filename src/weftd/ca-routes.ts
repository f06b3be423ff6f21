// weftd's security wiring: the CA, join tokens, the admin credential that guards the config API,
// and the routes a sidecar uses to get its certificate (see docs/security.md for the design).
//
//   POST /apis/weft.dev/v1/namespaces/:ns/jointokens                 admin only: {serviceAccount, ttlSeconds?}
//   POST /apis/weft.dev/v1/namespaces/:ns/certificatesigningrequests  join token (Bearer) or rotation proof
//   GET  /apis/weft.dev/v1/trustbundle                                 open: trust domain and root certificate
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { ApiServer } from '../api/server.js';
import { apiError, reply } from '../api/index.js';
import { CaRefusal, CertificateAuthority, type CaOptions } from '../security/ca.js';
import { JoinTokens, TokenRefusal } from '../security/tokens.js';

const P = '/apis/weft.dev/v1';
const CSR_PATH = /^\/apis\/weft\.dev\/v1\/namespaces\/[^/]+\/certificatesigningrequests$/;
const OPEN = new Set([`${P}/trustbundle`]);

export interface SecurityOptions {
  dataDir?: string;
  /** Fixed admin token (tests); default: `<dataDir>/admin-token`, created (mode 0600) when missing. */
  adminToken?: string;
  ca?: Omit<CaOptions, 'dataDir'>;
  log: (line: string) => void;
}

export interface WeftdSecurity {
  ca: CertificateAuthority;
  tokens: JoinTokens;
  adminToken: string;
  /** The config API's authorize hook: the admin token, except for the CSR and trust bundle routes. */
  authorize(req: IncomingMessage): boolean;
  register(api: ApiServer): void;
  /** xDS server credentials: mutual TLS (client certificate of the CA required), or plaintext when asked for on loopback. */
  xdsCredentials(host: string, insecure: boolean): Promise<grpc.ServerCredentials>;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

function loadAdminToken(dataDir: string | undefined): string {
  if (!dataDir) return randomBytes(24).toString('base64url');
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function setupSecurity(o: SecurityOptions): Promise<WeftdSecurity> {
  const ca = await CertificateAuthority.open({ ...o.ca, dataDir: o.dataDir });
  const tokens = new JoinTokens();
  const adminToken = o.adminToken ?? loadAdminToken(o.dataDir);
  const isAdmin = (req: IncomingMessage): boolean => {
    const t = bearer(req);
    return t !== undefined && sameSecret(t, adminToken);
  };
  let xdsTls = true;
  return {
    ca, tokens, adminToken,
    async xdsCredentials(host, insecure) {
      if (insecure) {
        if (!isLoopback(host)) throw new Error(`plaintext xDS (--insecure-xds) is allowed on loopback only, not on ${host}`);
        xdsTls = false;
        return grpc.ServerCredentials.createInsecure();
      }
      const ips = isIP(host) ? [host] : ['127.0.0.1'];
      const { certChainPem, keyPem } = await ca.issueServerCert(['weftd', 'localhost', ...(isIP(host) ? [] : [host])], ips);
      // Mutual TLS: every xDS client presents a workload certificate of this CA, verified in the
      // handshake (expired or foreign certificates never reach a stream); which node it may speak
      // for is checked per stream (src/weftd/xds-auth.ts).
      return grpc.ServerCredentials.createSsl(Buffer.from(ca.rootPem), [{ cert_chain: Buffer.from(certChainPem), private_key: Buffer.from(keyPem) }], true);
    },
    authorize(req) {
      const path = (req.url ?? '').split('?')[0];
      return OPEN.has(path) || (req.method === 'POST' && CSR_PATH.test(path)) || isAdmin(req);
    },
    register(api) {
      api.route('GET', `${P}/trustbundle`, () => ({ trustDomain: ca.trustDomain, rootCert: ca.rootPem, xdsTls }));
      api.route('POST', `${P}/namespaces/:ns/jointokens`, async (c) => {
        const b = ((await c.body()) ?? {}) as { serviceAccount?: unknown; ttlSeconds?: unknown };
        if (typeof b.serviceAccount !== 'string' || !b.serviceAccount) throw apiError(422, 'Invalid', 'jointoken field serviceAccount must be a non-empty string');
        const ttl = b.ttlSeconds === undefined ? 300 : Number(b.ttlSeconds);
        if (!Number.isFinite(ttl) || ttl <= 0 || ttl > 3600) throw apiError(422, 'Invalid', 'jointoken field ttlSeconds must be 1-3600');
        return reply(201, { namespace: c.params.ns, serviceAccount: b.serviceAccount, ...tokens.issue(c.params.ns, b.serviceAccount, ttl * 1000) });
      });
      api.route('POST', `${P}/namespaces/:ns/certificatesigningrequests`, async (c) => {
        const b = ((await c.body()) ?? {}) as { serviceAccount?: unknown; csr?: unknown; ttlSeconds?: unknown; proof?: { certChainPem: string; timestamp: number; signature: string } };
        const ns = c.params.ns;
        const who = `${ns}/${typeof b.serviceAccount === 'string' ? b.serviceAccount : '?'}`;
        const refuse = (status: number, why: string): never => {
          o.log(`ca: refused certificate request for ${who} from ${c.req.socket.remoteAddress ?? '?'}: ${why}`);
          throw apiError(status, status === 400 ? 'BadRequest' : 'Unauthorized', why);
        };
        if (typeof b.csr !== 'string' || typeof b.serviceAccount !== 'string') return refuse(400, 'body needs csr (PEM) and serviceAccount');
        let id: { namespace: string; serviceAccount: string };
        try {
          if (b.proof) {
            const p = ca.verifyRotationProof(b.proof, b.csr);
            id = { namespace: p.namespace, serviceAccount: p.serviceAccount };
          } else {
            const t = bearer(c.req);
            if (!t) return refuse(401, 'a join token (Authorization: Bearer) or a rotation proof is required');
            id = tokens.consume(t);
          }
        } catch (e) {
          if (e instanceof TokenRefusal || e instanceof CaRefusal) return refuse(403, e.message);
          throw e;
        }
        if (id.namespace !== ns || id.serviceAccount !== b.serviceAccount) {
          return refuse(403, `the credential is for ${id.namespace}/${id.serviceAccount}, not ${ns}/${b.serviceAccount}`);
        }
        try {
          const ttlMs = typeof b.ttlSeconds === 'number' ? b.ttlSeconds * 1000 : undefined;
          const cert = await ca.signCsr(b.csr, id, ttlMs);
          o.log(`ca: issued ${cert.spiffe} serial ${cert.serial} until ${cert.notAfter}${b.proof ? ' (rotation)' : ''}`);
          return reply(201, cert);
        } catch (e) {
          if (e instanceof CaRefusal) return refuse(e.status, e.message);
          throw e;
        }
      });
    },
  };
}
