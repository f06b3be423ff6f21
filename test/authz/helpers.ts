// A workload behind a real sidecar configured by translate() from Istio YAML, with its proxy log
// and access log captured; JWT keys and a local JWKS server.
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';
import type { Workload } from '../../src/model/index.js';
import { type AccessLogEntry, Proxy } from '../../src/proxy/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { translate, type ProxyInfo } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from '../translate/harness.js';
import { close, echoServer, listen } from '../proxy/helpers.js';

export interface TestWorkload {
  readonly proxy: Proxy;
  readonly address: string;
  readonly port: number;
  readonly logs: string[];
  readonly access: AccessLogEntry[];
  readonly appHits: () => number;
  close(): Promise<void>;
}

/** Service `app` on port 9080 selecting one workload at `address`, with `yaml` applied. */
export async function startWorkload(address: string, yaml: string, labels: Record<string, string> = { app: 'productpage' }, extraPorts: Record<string, number> = {}): Promise<TestWorkload> {
  const app = await echoServer('app');
  const svc = `apiVersion: v1\nkind: Service\nmetadata: { name: ${labels.app} }\nspec: { selector: { app: ${labels.app} }, ports: [{ name: http, port: 9080 }] }\n`;
  const w: Workload = { name: `${labels.app}-v1`, namespace: 'default', address, labels, serviceAccount: labels.app, ports: { http: 9080, ...extraPorts }, appPort: app.port };
  const snapshot = createSnapshot('1', parseResources(`${svc}---\n${yaml}`, 'authz-e2e'), [w]);
  const info: ProxyInfo = { id: `sidecar~${address}~${w.name}.default~default.svc.cluster.local`, kind: 'sidecar', name: w.name, namespace: 'default', labels, address, serviceAccount: w.serviceAccount };
  const res = translate(snapshot, info);
  const logs: string[] = [];
  const access: AccessLogEntry[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const proxy = new Proxy({ nodeId: info.id, address, adminPort: 0, log, accessLog: (e) => access.push(e) });
  for (const [type, m] of [[TYPE.cluster, res.clusters], [TYPE.endpoint, res.endpoints], [TYPE.listener, res.listeners], [TYPE.route, res.routes]] as const) {
    const r = proxy.update(type, m);
    if (!r.ok) throw new Error(`${type} rejected: ${r.error}`);
  }
  await proxy.start();
  await proxy.settled();
  return {
    proxy, address, port: 9080, logs, access, appHits: app.hits,
    async close() {
      await proxy.close();
      await close(app.server);
    },
  };
}

export interface SigningKey { alg: string; kid: string; privateKey: CryptoKey; jwk: JWK }

export async function signingKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

export const ISSUER = 'testing@secure.istio.io';

/** A token signed by `key`; claims default to issuer ISSUER, subject `testing@secure.istio.io`, one hour of life. */
export async function token(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, sub: ISSUER, iat: now, exp: now + 3600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

/** Serves `{keys}` as a JWKS document; counts fetches. */
export async function jwksServer(keys: JWK[], host = '127.0.0.1'): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  const port = await listen(server, host);
  return { url: `http://${host}:${port}/jwks.json`, hits: () => hits, close: () => close(server) };
}

export function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

/** The last access log entry whose path is `path` (the entry is written when the response closes). */
export function lastEntry(w: TestWorkload, path: string): AccessLogEntry | undefined {
  for (let i = w.access.length - 1; i >= 0; i--) if (w.access[i].path === path) return w.access[i];
  return undefined;
}

export { http };
