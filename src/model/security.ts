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
