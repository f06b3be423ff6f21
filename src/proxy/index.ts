// Public surface of the Weft sidecar data plane.
export { Proxy, PROXY_VERSION, type ProxyOptions, type UpdateResult } from './proxy.js';
export type { AccessLogEntry, Logger } from './env.js';
export { registerHttpFilter, registeredFilterTypes } from './filters/registry.js';
export type { FilterStatus, HttpFilter, HttpFilterContext, HttpFilterFactory } from './filters/types.js';
export { registerLoadBalancer, type Picker, type PickerFactory } from './upstream/lb.js';
