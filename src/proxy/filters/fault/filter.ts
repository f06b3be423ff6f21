// The fault filter: maybe delay (flag DI), then maybe abort (flag FI, body "fault filter abort").
// Stats as Envoy: http.<prefix>.fault.{delays_injected,aborts_injected,active_faults,faults_overflow}.
import type { HttpFilter, HttpFilterContext } from '../types.js';
import type { Stream } from '../../hcm/stream.js';
import type { FaultConfig } from './config.js';
import { FAULT_FILTER_NAME } from './config.js';

export const FAULT_ABORT_BODY = 'fault filter abort';

type Counters = Record<string, number>;
const countersByHcm = new WeakMap<object, Counters>();

function counters(s: Stream): Counters {
  let c = countersByHcm.get(s.hcm);
  if (!c) {
    c = s.env.stats.group(`http.${s.hcm.statPrefix}.fault`);
    for (const k of ['delays_injected', 'aborts_injected', 'active_faults', 'faults_overflow']) c[k] ??= 0;
    countersByHcm.set(s.hcm, c);
  }
  return c;
}

function headerNumber(s: Stream, name: string): number | undefined {
  const v = s.view.headers[name];
  const n = Number(Array.isArray(v) ? v[0] : v);
  return v === undefined || !Number.isFinite(n) ? undefined : n;
}

export class FaultFilter implements HttpFilter {
  constructor(private readonly config: FaultConfig) {}

  onRequestHeaders(ctx: HttpFilterContext): 'continue' | 'stop' | Promise<'continue' | 'stop'> {
    const s = ctx as Stream;
    const perRoute = s.perFilterConfig(FAULT_FILTER_NAME) as FaultConfig | undefined;
    const cfg = perRoute && typeof perRoute.delayMs === 'number' ? perRoute : this.config;
    if (cfg.delayMs === 0 && !cfg.headerDelay && cfg.abortHttp === 0 && cfg.abortGrpc === undefined && !cfg.headerAbort) return 'continue';
    for (const m of cfg.headers) if (!m(s.view)) return 'continue';
    if (cfg.upstreamCluster && !routesTo(s, cfg.upstreamCluster)) return 'continue';
    const c = counters(s);
    if (c.active_faults >= cfg.maxActive) {
      c.faults_overflow++;
      return 'continue';
    }
    let delay = 0;
    if (cfg.delayMs > 0 || cfg.headerDelay) {
      const d = cfg.headerDelay ? headerNumber(s, 'x-envoy-fault-delay-request') : cfg.delayMs;
      if (d !== undefined && d > 0 && Math.random() < cfg.delayFraction) delay = d;
    }
    if (delay === 0) return this.abort(s, cfg, c) ? 'stop' : 'continue';
    c.delays_injected++;
    c.active_faults++;
    s.addFlag('DI');
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        c.active_faults--;
        s.onAbort = null;
        resolve(this.abort(s, cfg, c) ? 'stop' : 'continue');
      }, delay);
      // The client went away during the delay: stop here.
      s.onAbort = () => {
        clearTimeout(t);
        c.active_faults--;
        resolve('stop');
      };
    });
  }

  /** Applies the abort fault if this request draws it; true when it replied. */
  private abort(s: Stream, cfg: FaultConfig, c: Counters): boolean {
    let http = cfg.abortHttp;
    let grpc = cfg.abortGrpc;
    if (cfg.headerAbort) {
      http = headerNumber(s, 'x-envoy-fault-abort-request') ?? 0;
      grpc = headerNumber(s, 'x-envoy-fault-abort-grpc-request');
    }
    if ((http === 0 && grpc === undefined) || Math.random() >= cfg.abortFraction) return false;
    c.aborts_injected++;
    if (grpc !== undefined) {
      s.sendLocalReply(200, '', 'FI', { 'content-type': 'application/grpc', 'grpc-status': String(grpc), 'grpc-message': FAULT_ABORT_BODY });
    } else s.sendLocalReply(http, FAULT_ABORT_BODY, 'FI');
    return true;
  }
}

function routesTo(s: Stream, cluster: string): boolean {
  const a = s.route?.action;
  if (!a) return false;
  if (a.kind === 'cluster') return a.cluster.name === cluster;
  if (a.kind === 'weighted') return a.targets.some((t) => t.cluster.name === cluster);
  return false;
}
