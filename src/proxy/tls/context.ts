// Envoy CommonTlsContext (inline or SDS-referenced certificate and validation context, SAN matchers,
// ALPN) compiled once per push; the PEM material is resolved from the SecretStore at handshake time,
// so a rotated secret applies to new connections without a config push.
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { ConfigError, type Obj, arr, isObj, obj, str } from '../wire.js';
import { type SecretStore, type TlsCertificate, parseTlsCertificate, parseTrustedCa } from './secrets.js';

export const TLS_SOCKET = 'envoy.transport_sockets.tls';
export const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export interface SanMatcher { type: string; kind: 'exact' | 'prefix' | 'suffix' | 'contains'; value: string }

export interface TlsParams { minVersion?: tls.SecureVersion; maxVersion?: tls.SecureVersion; ciphers?: string }

const VERSIONS: Record<string, tls.SecureVersion | undefined> = { TLSv1_0: 'TLSv1', TLSv1_1: 'TLSv1.1', TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3', TLS_AUTO: undefined };

/** Envoy `tls_params`; version names as Envoy spells them, ciphers in OpenSSL names (as Envoy and Istio take them). */
function compileTlsParams(v: unknown, path: string): TlsParams {
  if (v === undefined || v === null) return {};
  const o = obj(v, path);
  const version = (f: string): tls.SecureVersion | undefined => {
    const s = str(o[f], `${path}.${f}`);
    if (s === '') return undefined;
    if (!(s in VERSIONS)) throw new ConfigError(`${path}.${f}`, `unknown TLS version ${s} (TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3, TLS_AUTO)`);
    return VERSIONS[s];
  };
  const minVersion = version('tls_minimum_protocol_version');
  const maxVersion = version('tls_maximum_protocol_version');
  const suites = arr(o.cipher_suites, `${path}.cipher_suites`).map((c, i) => str(c, `${path}.cipher_suites[${i}]`));
  const out: TlsParams = { ...(minVersion ? { minVersion } : {}), ...(maxVersion ? { maxVersion } : {}), ...(suites.length ? { ciphers: suites.join(':') } : {}) };
  try {
    tls.createSecureContext({ minVersion: out.minVersion ?? 'TLSv1.2', maxVersion: out.maxVersion, ciphers: out.ciphers });
  } catch (e) {
    throw new ConfigError(path, `not usable by this proxy: ${(e as Error).message}`);
  }
  return out;
}

export interface Material { cert?: TlsCertificate; ca?: string; key: string }

/**
 * Node's default cipher list with AES-128-GCM first, as Envoy (BoringSSL) orders them: with AES-NI it
 * is the cheapest AEAD per record (AES-256 takes 14 rounds against 10), and TLS 1.3 picks the
 * client's first choice. Used only when tls_params names no cipher suites.
 */
export const MESH_CIPHERS = ['TLS_AES_128_GCM_SHA256', ...tls.DEFAULT_CIPHERS.split(':').filter((c) => c !== 'TLS_AES_128_GCM_SHA256')].join(':');

/** A refusal whose reason is logged (missing secret, failed verification). */
export class TlsRefusal extends Error {}

export class CommonTls {
  private cache: { key: string; ctx: tls.SecureContext } | undefined;

  constructor(
    readonly secrets: SecretStore,
    readonly certSecret: string | undefined,
    readonly inlineCert: TlsCertificate | undefined,
    readonly caSecret: string | undefined,
    readonly inlineCa: string | undefined,
    readonly sans: readonly SanMatcher[],
    readonly alpn: readonly string[],
    /** Envoy tls_params: protocol version bounds and cipher suites (Node/OpenSSL names). */
    readonly params: TlsParams = {},
  ) {}

  /** True when the configuration names a certificate of our own (mutual TLS as a client). */
  get hasCertificate(): boolean {
    return this.certSecret !== undefined || this.inlineCert !== undefined;
  }

  material(): Material {
    let cert = this.inlineCert;
    let ca = this.inlineCa;
    let key = 'inline';
    if (this.certSecret !== undefined) {
      const s = this.secrets.get(this.certSecret);
      if (!s?.certificate) throw new TlsRefusal(`secret ${this.certSecret} (certificate) is not available yet`);
      cert = s.certificate;
      key += `|${s.name}@${s.version}`;
    }
    if (this.caSecret !== undefined) {
      const s = this.secrets.get(this.caSecret);
      if (!s?.trustedCa) throw new TlsRefusal(`secret ${this.caSecret} (validation context) is not available yet`);
      ca = s.trustedCa;
      key += `|${s.name}@${s.version}`;
    }
    return { cert, ca, key };
  }

  /** The SecureContext for the current secret versions (rebuilt only when a secret changed). */
  secureContext(m = this.material()): tls.SecureContext {
    if (this.cache?.key === m.key) return this.cache.ctx;
    const p = this.params;
    const ctx = tls.createSecureContext({ cert: m.cert?.certChainPem, key: m.cert?.keyPem, ca: m.ca, minVersion: p.minVersion ?? 'TLSv1.2',
      ...(p.maxVersion ? { maxVersion: p.maxVersion } : {}), ciphers: p.ciphers ?? MESH_CIPHERS,
      // Servers: OpenSSL refuses (fatally) to resume a session on a context that verifies client
      // certificates but has no session id context, so a client offering a ticket (Envoy's and Weft's
      // sidecars do) would fail its second handshake. The id names this material and these checks;
      // tickets are also bound to this context object, whose ticket keys die with it.
      sessionIdContext: createHash('sha256').update(`${m.key}|${this.sans.map((x) => `${x.type}:${x.kind}:${x.value}`).join(',')}`).digest('hex').slice(0, 32) });
    this.cache = { key: m.key, ctx };
    return ctx;
  }

  /** Checks a peer's subject alt names ("URI:spiffe://..., DNS:x") against the configured matchers. */
  sanError(subjectaltname: string | undefined): string | undefined {
    if (this.sans.length === 0) return undefined;
    const names = (subjectaltname ?? '').split(/,\s*/).filter(Boolean).map((s) => {
      const i = s.indexOf(':');
      return { type: s.slice(0, i), value: s.slice(i + 1) };
    });
    const typeOf = (t: string): string => (t === 'URI' ? 'URI' : t === 'DNS' ? 'DNS' : t === 'IP_ADDRESS' ? 'IP Address' : t === 'EMAIL' ? 'email' : t);
    const ok = this.sans.some((m) => names.some((n) => n.type === typeOf(m.type) && (
      m.kind === 'exact' ? n.value === m.value : m.kind === 'prefix' ? n.value.startsWith(m.value) : m.kind === 'suffix' ? n.value.endsWith(m.value) : n.value.includes(m.value))));
    return ok ? undefined : `peer identity ${subjectaltname || '(no SAN)'} is not one of ${this.sans.map((m) => m.value).join(', ')}`;
  }
}

function sanMatchers(vc: Obj, path: string): SanMatcher[] {
  return arr(vc.match_typed_subject_alt_names, `${path}.match_typed_subject_alt_names`).map((raw, i) => {
    const p = `${path}.match_typed_subject_alt_names[${i}]`;
    const m = obj(raw, p);
    const sm = obj(m.matcher, `${p}.matcher`);
    const kind = (['exact', 'prefix', 'suffix', 'contains'] as const).find((k) => typeof sm[k] === 'string');
    if (!kind) throw new ConfigError(`${p}.matcher`, 'needs exact, prefix, suffix or contains');
    return { type: str(m.san_type, `${p}.san_type`, 'URI'), kind, value: sm[kind] as string };
  });
}

/** Compiles `common_tls_context`. */
export function compileCommonTls(v: unknown, secrets: SecretStore, path: string): CommonTls {
  const c = obj(v, path);
  const sds = arr(c.tls_certificate_sds_secret_configs, `${path}.tls_certificate_sds_secret_configs`);
  const inline = arr(c.tls_certificates, `${path}.tls_certificates`);
  const certSecret = sds.length ? str(obj(sds[0], `${path}.tls_certificate_sds_secret_configs[0]`).name, `${path}.tls_certificate_sds_secret_configs[0].name`) : undefined;
  const inlineCert = !certSecret && inline.length ? parseTlsCertificate(inline[0], `${path}.tls_certificates[0]`) : undefined;
  let caSecret: string | undefined;
  let inlineCa: string | undefined;
  let sans: SanMatcher[] = [];
  if (isObj(c.combined_validation_context)) {
    const p = `${path}.combined_validation_context`;
    const cv = c.combined_validation_context;
    const dv = obj(cv.default_validation_context, `${p}.default_validation_context`);
    sans = sanMatchers(dv, `${p}.default_validation_context`);
    if (isObj(dv.trusted_ca)) inlineCa = parseTrustedCa(dv, `${p}.default_validation_context`);
    if (isObj(cv.validation_context_sds_secret_config)) caSecret = str(cv.validation_context_sds_secret_config.name, `${p}.validation_context_sds_secret_config.name`);
  } else if (isObj(c.validation_context_sds_secret_config)) {
    caSecret = str(c.validation_context_sds_secret_config.name, `${path}.validation_context_sds_secret_config.name`);
  } else if (isObj(c.validation_context)) {
    sans = sanMatchers(c.validation_context, `${path}.validation_context`);
    if (isObj(c.validation_context.trusted_ca)) inlineCa = parseTrustedCa(c.validation_context, `${path}.validation_context`);
  }
  const alpn = arr(c.alpn_protocols, `${path}.alpn_protocols`).map((a, i) => str(a, `${path}.alpn_protocols[${i}]`));
  return new CommonTls(secrets, certSecret, inlineCert, caSecret, inlineCa, sans, alpn, compileTlsParams(c.tls_params, `${path}.tls_params`));
}

/** The typed_config of a `transport_socket` if it is TLS of the wanted kind; null for raw_buffer/none. */
export function tlsTypedConfig(ts: unknown, want: string, path: string): Obj | null {
  if (ts === undefined || ts === null) return null;
  const t = obj(ts, path);
  const name = str(t.name, `${path}.name`);
  if (name === 'envoy.transport_sockets.raw_buffer' || name === 'raw_buffer') return null;
  const tc = obj(t.typed_config, `${path}.typed_config`);
  const type = str(tc['@type'], `${path}.typed_config.@type`);
  if (type !== want) throw new ConfigError(`${path}.typed_config`, `unsupported transport socket ${name || '(unnamed)'} of type ${type || '(none)'}; expected ${want}`);
  return tc;
}
