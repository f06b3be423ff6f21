// envoy.extensions.filters.http.fault.v3.HTTPFault: delay and abort injection (Istio VirtualService
// `fault`). The filter-level config applies unless the route's typed_per_filter_config replaces it.
import { ConfigError, type Obj, arr, durationMs, isObj, num, obj, str } from '../../wire.js';
import { fraction } from '../../router/compile.js';
import { type RequestPredicate, compileHeaderMatcher } from '../../router/matchers.js';
import type { HttpFilterFactory } from '../types.js';
import { FaultFilter } from './filter.js';

export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

export interface FaultConfig {
  /** Fixed delay (ms) and the share of requests delayed (0..1); delayMs 0 = no delay fault. */
  readonly delayMs: number;
  readonly delayFraction: number;
  /** x-envoy-fault-delay-request header decides the delay (header_delay). */
  readonly headerDelay: boolean;
  /** HTTP status or gRPC status of the abort (0 = none). */
  readonly abortHttp: number;
  readonly abortGrpc: number | undefined;
  readonly abortFraction: number;
  readonly headerAbort: boolean;
  /** All must match for the fault to apply. */
  readonly headers: readonly RequestPredicate[];
  /** Only requests to this cluster ('' = any). */
  readonly upstreamCluster: string;
  readonly maxActive: number;
}

export function parseFault(c: Obj, path: string): FaultConfig {
  let delayMs = 0;
  let delayFraction = 0;
  let headerDelay = false;
  if (isObj(c.delay)) {
    const d = c.delay;
    headerDelay = isObj(d.header_delay);
    delayMs = durationMs(d.fixed_delay, `${path}.delay.fixed_delay`) ?? 0;
    if (!headerDelay && delayMs <= 0) throw new ConfigError(`${path}.delay`, 'needs fixed_delay or header_delay');
    delayFraction = fraction(d.percentage, `${path}.delay.percentage`, 1);
  }
  let abortHttp = 0;
  let abortGrpc: number | undefined;
  let abortFraction = 0;
  let headerAbort = false;
  if (isObj(c.abort)) {
    const a = c.abort;
    headerAbort = isObj(a.header_abort);
    if (a.grpc_status !== undefined) abortGrpc = num(a.grpc_status, `${path}.abort.grpc_status`, 2);
    else if (!headerAbort) {
      abortHttp = num(a.http_status, `${path}.abort.http_status`, 0);
      if (abortHttp < 200 || abortHttp >= 600) throw new ConfigError(`${path}.abort.http_status`, `must be in [200, 600), got ${abortHttp}`);
    }
    abortFraction = fraction(a.percentage, `${path}.abort.percentage`, 1);
  }
  return {
    delayMs, delayFraction, headerDelay, abortHttp, abortGrpc, abortFraction, headerAbort,
    headers: arr(c.headers, `${path}.headers`).map((h, i) => compileHeaderMatcher(obj(h, `${path}.headers[${i}]`), `${path}.headers[${i}]`)),
    upstreamCluster: str(c.upstream_cluster, `${path}.upstream_cluster`),
    maxActive: num(c.max_active_faults, `${path}.max_active_faults`, Infinity),
  };
}

export const faultFactory: HttpFilterFactory<FaultConfig> = {
  name: FAULT_FILTER_NAME,
  configTypes: [FAULT_TYPE],
  perRouteTypes: [FAULT_TYPE],
  parseConfig: parseFault,
  parsePerRoute: parseFault,
  create(config: FaultConfig) {
    return shared.get(config) ?? makeShared(config);
  },
};

const shared = new WeakMap<FaultConfig, FaultFilter>();
function makeShared(config: FaultConfig): FaultFilter {
  const f = new FaultFilter(config);
  shared.set(config, f);
  return f;
}
