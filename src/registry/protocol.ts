// Protocol selection as Istio does it: appProtocol first, then the port name prefix
// (`http`, `http-web`, `grpc-api`...), then the Gateway/ServiceEntry `protocol` field.

export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'GRPC-Web' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP'
  | 'Mongo' | 'Redis' | 'MySQL' | 'UNSUPPORTED';

const BY_NAME: Record<string, Protocol> = {
  http: 'HTTP', http2: 'HTTP2', grpc: 'GRPC', 'grpc-web': 'GRPC-Web', https: 'HTTPS', tls: 'TLS', tcp: 'TCP',
  udp: 'UDP', mongo: 'Mongo', redis: 'Redis', mysql: 'MySQL', h2c: 'HTTP2',
  'kubernetes.io/h2c': 'HTTP2', 'kubernetes.io/ws': 'HTTP', 'kubernetes.io/wss': 'HTTPS',
};

/** Parses a protocol name case-insensitively; unknown names are UNSUPPORTED (auto-detected). */
export function parseProtocol(s: string | undefined): Protocol {
  if (!s) return 'UNSUPPORTED';
  return BY_NAME[s.toLowerCase()] ?? 'UNSUPPORTED';
}

/** `http-web` -> HTTP, `grpc` -> GRPC, `grpc-web` -> GRPC-Web, `foo` -> UNSUPPORTED. */
export function protocolFromPortName(name: string | undefined): Protocol {
  if (!name) return 'UNSUPPORTED';
  const lower = name.toLowerCase();
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return 'GRPC-Web';
  const i = lower.indexOf('-');
  return parseProtocol(i < 0 ? lower : lower.slice(0, i));
}

/** Protocol of a v1 Service port: appProtocol wins over the name prefix. */
export function servicePortProtocol(p: { name?: string; appProtocol?: string }): Protocol {
  const byApp = parseProtocol(p.appProtocol);
  return byApp !== 'UNSUPPORTED' ? byApp : protocolFromPortName(p.name);
}

/**
 * Ports whose traffic goes through the HTTP connection manager. Unnamed ports are sniffed by
 * Istio; Weft's outbound is an HTTP proxy, so they are treated as HTTP.
 */
export function isHttpProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-Web' || p === 'UNSUPPORTED';
}
