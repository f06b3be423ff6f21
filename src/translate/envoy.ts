// Envoy type URLs and small object builders used by every translation module.
import { msToDuration, parseDurationMs, type ProtoDuration } from '../xds/protos.js';

const T = 'type.googleapis.com/';
export const TYPES = {
  hcm: `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  tcpProxy: `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`,
  router: `${T}envoy.extensions.filters.http.router.v3.Router`,
  fault: `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  cors: `${T}envoy.extensions.filters.http.cors.v3.Cors`,
  corsPolicy: `${T}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
  httpProtocolOptions: `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
} as const;

export const FILTER = {
  hcm: 'envoy.filters.network.http_connection_manager',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
  router: 'envoy.filters.http.router',
  fault: 'envoy.filters.http.fault',
  cors: 'envoy.filters.http.cors',
} as const;

/** Plain JSON Envoy object (snake_case proto field names). */
export type Obj = Record<string, unknown>;

export const ADS_CONFIG_SOURCE: Obj = Object.freeze({ ads: {}, resource_api_version: 'V3' });
export const ZERO_DURATION: ProtoDuration = Object.freeze({ seconds: '0', nanos: 0 });
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Istio duration string -> Envoy Duration; undefined (and ignored) when malformed. */
export function duration(s: string | undefined): ProtoDuration | undefined {
  if (s === undefined) return undefined;
  const ms = parseDurationMs(s);
  return ms === undefined ? undefined : msToDuration(ms);
}

/** Istio percentage (0-100, fractional) -> Envoy FractionalPercent per million. */
export function fractionalPercent(percent: number): Obj {
  return { numerator: Math.round(Math.min(100, Math.max(0, percent)) * 10_000), denominator: 'MILLION' };
}

/** Istio StringMatch -> Envoy StringMatcher (regex as RE2 safe_regex). */
export function stringMatcher(m: { exact?: string; prefix?: string; regex?: string }, ignoreCase = false): Obj | undefined {
  const base: Obj = ignoreCase ? { ignore_case: true } : {};
  if (m.exact !== undefined) return { ...base, exact: m.exact };
  if (m.prefix !== undefined) return { ...base, prefix: m.prefix };
  if (m.regex !== undefined) return { safe_regex: { regex: m.regex } };
  return undefined;
}

export function socketAddress(address: string, port: number): Obj {
  return { socket_address: { address, port_value: port } };
}
