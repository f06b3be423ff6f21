export { translate } from './translate.js';
export { translateForGrpc, resolveGrpcTarget } from './grpc.js';
export { checkConsistency } from './consistency.js';
export type { XdsResources } from './types.js';
export { parseNodeId, withWorkload, type ProxyInfo } from './proxy.js';
export * from './names.js';
