// SDS secrets held by the sidecar: `default` (workload cert chain + private key) and `ROOTCA`
// (trust bundle). The agent feeds them locally (the key never crosses the network); a push replaces
// same-named secrets. Contexts built from them are cached per secret version.
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, type Obj, isObj, obj, str } from '../wire.js';
import { splitPemCerts } from '../../security/pem-text.js';
import { type Logger, silentLogger } from '../env.js';

const FILE_CERT = 'file-cert:';
const FILE_ROOT = 'file-root:';

export const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

export interface TlsCertificate { certChainPem: string; keyPem: string }
export interface Secret {
  readonly name: string;
  readonly version: number;
  readonly certificate?: TlsCertificate;
  /** Trusted CA bundle (PEM). */
  readonly trustedCa?: string;
  readonly lastUpdated: string;
}

/** Inline bytes or inline string of an Envoy DataSource (files are read at compile time). */
function dataSource(v: unknown, path: string): string {
  const d = obj(v, path);
  if (typeof d.inline_string === 'string') return d.inline_string;
  if (typeof d.inline_bytes === 'string') return Buffer.from(d.inline_bytes, 'base64').toString();
  if (d.inline_bytes instanceof Uint8Array) return Buffer.from(d.inline_bytes).toString();
  if (typeof d.filename === 'string') return readFileOrThrow(d.filename, path);
  throw new ConfigError(path, 'needs inline_string, inline_bytes or filename');
}

function readFileOrThrow(file: string, path: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(path, `cannot read ${file}: ${(e as Error).message}`);
  }
}

export function parseTlsCertificate(v: unknown, path: string): TlsCertificate {
  const c = obj(v, path);
  const certChainPem = dataSource(c.certificate_chain, `${path}.certificate_chain`);
  const keyPem = dataSource(c.private_key, `${path}.private_key`);
  try {
    tls.createSecureContext({ cert: certChainPem, key: keyPem });
  } catch (e) {
    throw new ConfigError(path, `certificate and key do not load: ${(e as Error).message}`);
  }
  return { certChainPem, keyPem };
}

export function parseTrustedCa(v: unknown, path: string): string {
  const pem = dataSource(obj(v, path).trusted_ca, `${path}.trusted_ca`);
  if (splitPemCerts(pem).length === 0) throw new ConfigError(`${path}.trusted_ca`, 'holds no PEM certificate');
  return pem;
}

export class SecretStore {
  private readonly secrets = new Map<string, Secret>();
  /** Where TLS refusals are logged (set by the Proxy). */
  log: Logger = silentLogger;
  private seq = 0;

  get(name: string): Secret | undefined {
    if (name.startsWith(FILE_CERT) || name.startsWith(FILE_ROOT)) return this.fileSecret(name);
    return this.secrets.get(name);
  }

  private readonly files = new Map<string, { stamp: string; checkedAt: number; secret?: Secret }>();

  /**
   * Istio's file-mounted gateway credentials (`serverCertificate`/`privateKey`/`caCertificates`),
   * named `file-cert:CERT~KEY` / `file-root:CA` as Istio's agent names them: read from disk when
   * first needed and again when the files change (checked at most once a second), so a replaced
   * file applies to new handshakes. Unreadable or mismatched files: undefined (the handshake is refused and logged).
   */
  private fileSecret(name: string): Secret | undefined {
    const now = Date.now();
    const cached = this.files.get(name);
    if (cached && now - cached.checkedAt < 1000) return cached.secret;
    const paths = name.startsWith(FILE_CERT) ? name.slice(FILE_CERT.length).split('~') : [name.slice(FILE_ROOT.length)];
    let stamp = '';
    try {
      for (const p of paths) {
        const st = statSync(p);
        stamp += `${p}@${st.mtimeMs}:${st.size};`;
      }
    } catch (e) {
      this.log.warn(`SDS ${name}: ${(e as Error).message}`);
      this.files.set(name, { stamp: '', checkedAt: now });
      return undefined;
    }
    if (cached && cached.stamp === stamp) {
      cached.checkedAt = now;
      return cached.secret;
    }
    let secret: Secret | undefined;
    try {
      const at = new Date().toISOString();
      secret = name.startsWith(FILE_CERT)
        ? { name, version: ++this.seq, certificate: parseTlsCertificate({ certificate_chain: { filename: paths[0] }, private_key: { filename: paths[1] ?? '' } }, `Secret ${name}`), lastUpdated: at }
        : { name, version: ++this.seq, trustedCa: parseTrustedCa({ trusted_ca: { filename: paths[0] } }, `Secret ${name}`), lastUpdated: at };
    } catch (e) {
      this.log.warn(`SDS ${name}: ${(e as Error).message}`);
    }
    this.files.set(name, { stamp, checkedAt: now, secret });
    return secret;
  }

  /** Validates and installs secrets (same-named ones replaced); returns an error without changing anything. */
  update(resources: ReadonlyMap<string, object>): string | undefined {
    const next: Secret[] = [];
    try {
      for (const [name, r] of resources) {
        const path = `Secret ${name}`;
        const s = obj(r, path);
        const at = new Date().toISOString();
        if (isObj(s.tls_certificate)) next.push({ name, version: ++this.seq, certificate: parseTlsCertificate(s.tls_certificate, `${path}.tls_certificate`), lastUpdated: at });
        else if (isObj(s.validation_context)) next.push({ name, version: ++this.seq, trustedCa: parseTrustedCa(s.validation_context, `${path}.validation_context`), lastUpdated: at });
        else throw new ConfigError(path, `needs tls_certificate or validation_context (${str(s.name, `${path}.name`, name)})`);
      }
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    for (const s of next) this.secrets.set(s.name, s);
    return undefined;
  }

  /** Envoy's admin SecretsConfigDump, with certificate details instead of the private key. */
  dump(): Obj {
    const describe = (pem: string): Obj[] => splitPemCerts(pem).map((p) => {
      const c = new X509Certificate(p);
      return { serial_number: c.serialNumber.toLowerCase(), subject_alt_names: c.subjectAltName ?? '', subject: c.subject, issuer: c.issuer, valid_from: new Date(c.validFrom).toISOString(), expiration_time: new Date(c.validTo).toISOString() };
    });
    return {
      '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
      dynamic_active_secrets: [...this.secrets.values()].map((s) => ({
        name: s.name, version_info: String(s.version), last_updated: s.lastUpdated,
        secret: s.certificate
          ? { '@type': SECRET_TYPE, name: s.name, tls_certificate: { certificate_chain: { inline_string: s.certificate.certChainPem }, private_key: { inline_string: '[redacted]' } } }
          : { '@type': SECRET_TYPE, name: s.name, validation_context: { trusted_ca: { inline_string: s.trustedCa } } },
        certificates: describe(s.certificate?.certChainPem ?? s.trustedCa ?? ''),
      })),
    };
  }
}

/**
 * Names of the SDS secrets the listeners fetch over ADS (`sds_config: {ads: {}}`, e.g. a gateway's
 * `kubernetes://NAME`); the agent-local ones (`default`, `ROOTCA` from `sds-grpc`) are not among them.
 */
export function adsSecretNames(listeners: ReadonlyMap<string, Record<string, unknown>>): string[] {
  const names = new Set<string>();
  const visit = (v: unknown, depth: number): void => {
    if (depth > 12 || typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) {
      for (const x of v) visit(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    for (const key of ['tls_certificate_sds_secret_configs', 'validation_context_sds_secret_config']) {
      const refs = Array.isArray(o[key]) ? o[key] as unknown[] : o[key] ? [o[key]] : [];
      for (const r of refs) {
        const ref = r as { name?: unknown; sds_config?: { ads?: unknown } };
        if (typeof ref.name === 'string' && ref.sds_config?.ads !== undefined) names.add(ref.name);
      }
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'tls_certificate_sds_secret_configs') visit(x, depth + 1);
  };
  for (const l of listeners.values()) visit(l.filter_chains, 0);
  return [...names].sort();
}
