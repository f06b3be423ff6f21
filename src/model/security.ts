// Spec types of security.istio.io.

export interface WorkloadSelector { matchLabels?: Record<string, string> }

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsMode };
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

export interface JWTHeader { name: string; prefix?: string }
export interface JWTRule {
  issuer?: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: JWTHeader[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: { header: string; claim: string }[];
  timeout?: string;
}
export interface RequestAuthenticationSpec { selector?: WorkloadSelector; jwtRules?: JWTRule[] }

export interface Source {
  principals?: string[]; notPrincipals?: string[];
  requestPrincipals?: string[]; notRequestPrincipals?: string[];
  namespaces?: string[]; notNamespaces?: string[];
  ipBlocks?: string[]; notIpBlocks?: string[];
  remoteIpBlocks?: string[]; notRemoteIpBlocks?: string[];
}
export interface Operation {
  hosts?: string[]; notHosts?: string[];
  ports?: string[]; notPorts?: string[];
  methods?: string[]; notMethods?: string[];
  paths?: string[]; notPaths?: string[];
}
export interface Condition { key: string; values?: string[]; notValues?: string[] }
export interface Rule { from?: { source?: Source }[]; to?: { operation?: Operation }[]; when?: Condition[] }
export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: Record<string, unknown>;
  rules?: Rule[];
  action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  provider?: { name: string };
}

// ---- Mesh config extension providers (Istio's meshConfig.extensionProviders), for AuthorizationPolicy CUSTOM

export interface ExtAuthzHttpProvider {
  /** The authorizer's service: FQDN (`ext-authz.foo.svc.cluster.local`) or `namespace/host`. */
  service: string;
  port: number;
  /** Timeout of the check (Istio duration, default 600s as Istio). */
  timeout?: string;
  /** Prefixed to the original request path in the check request. */
  pathPrefix?: string;
  /** Allow the request when the authorizer cannot be reached or fails. */
  failOpen?: boolean;
  /** Status returned when the authorizer fails (default 403). */
  statusOnError?: string;
  /** Client request headers sent to the authorizer (besides Host, Method, Path, Content-Length, Authorization). */
  includeRequestHeadersInCheck?: string[];
  /** Headers added to the check request. */
  includeAdditionalHeadersInCheck?: Record<string, string>;
  /** Authorizer response headers copied onto the upstream request when it allows. */
  headersToUpstreamOnAllow?: string[];
  /** Authorizer response headers returned to the client when it denies. */
  headersToDownstreamOnDeny?: string[];
  /** Authorizer response headers returned to the client when it allows. */
  headersToDownstreamOnAllow?: string[];
  includeRequestBodyInCheck?: { maxRequestBytes?: number; allowPartialMessage?: boolean; packAsBytes?: boolean };
}
export interface ExtensionProvider {
  name: string;
  envoyExtAuthzHttp?: ExtAuthzHttpProvider;
  envoyExtAuthzGrpc?: { service: string; port: number; timeout?: string; failOpen?: boolean };
}
