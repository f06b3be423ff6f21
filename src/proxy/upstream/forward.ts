// Sends one request upstream over HTTP/1.1 (keep-alive agent) or h2c (shared session) and streams the
// response back with backpressure (pipe). A Forwarder owns one downstream request: route timeout,
// retries (retry_on, per-try timeout, jittered backoff, previous-host avoidance, max_retries),
// circuit breakers (max_requests, max_pending_requests -> 503 UO), outlier detection reports and the
// keep-alive race (a reset on a reused connection before any response byte is retried on a fresh one).
import type { Stream } from '../hcm/stream.js';
import type { Headers } from '../router/headers.js';
import type { CompiledRoute } from '../router/compile.js';
import { RETRY_5XX, RETRY_GATEWAY, backoffMs, retriableReset, retriableStatus } from '../router/retry.js';
import type { Cluster } from './cluster.js';
import { type Endpoint, isConnectFailure, sessionConnectFailed } from './endpoint.js';
import { BODY_BUFFER_LIMIT, type RequestBody, bufferBody } from './body.js';
import { mirrorRequest } from './mirror.js';
import { Outcome } from './outlier.js';
import { Attempt } from './attempt.js';
import { UC_BODY, UF_BODY, UO_BODY, UT_BODY } from './replies.js';

export { UC_BODY, UF_BODY, UO_BODY, UT_BODY } from './replies.js';


/** Per-request upstream settings decided by the router. */
export interface UpstreamRequest {
  readonly path: string;
  readonly authority: string;
  readonly suppressEnvoyHeaders: boolean;
  /** The route's hash_policy value (consistent-hash load balancers). */
  readonly hash: number | undefined;
  /** A generated hash cookie to set on the response. */
  readonly setCookie: string | undefined;
}

/** A reset on a reused keep-alive connection before any response byte: retried this many times. */
const STALE_CONNECTION_RETRIES = 3;


const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Envoy: a grpc-timeout header sets the route timeout, capped by grpc_timeout_header_max (0: no cap). */
function grpcTimeout(s: Stream, routeMs: number, maxMs: number): number {
  const v = s.view.headers['grpc-timeout'];
  if (typeof v !== 'string' || v.length < 2) return routeMs;
  const unit = GRPC_UNITS[v[v.length - 1]];
  const n = Number(v.slice(0, -1));
  if (unit === undefined || !Number.isFinite(n)) return routeMs;
  const ms = Math.max(1, n * unit);
  return maxMs > 0 ? Math.min(ms, maxMs) : ms;
}

export class Forwarder {
  retriesLeft: number;
  attempts = 0;
  current: Attempt | null = null;
  body: RequestBody | null = null;
  done = false;
  private timer: NodeJS.Timeout | undefined;
  private backoff: NodeJS.Timeout | undefined;
  /** This request holds one of the cluster's max_retries slots (from its first retry until it ends). */
  private retrySlot = false;
  /** Keys (address:port) of hosts tried: keys, not objects, because an EDS push may rebuild the endpoints mid-request. */
  private tried: string[] | null = null;

  constructor(
    readonly s: Stream,
    readonly cluster: Cluster,
    readonly route: CompiledRoute,
    readonly u: UpstreamRequest,
  ) {
    this.retriesLeft = route.retry.numRetries;
    s.onAbort = () => this.abort();
    const timeout = route.grpcTimeoutMaxMs === undefined ? route.timeoutMs : grpcTimeout(s, route.timeoutMs, route.grpcTimeoutMaxMs);
    if (timeout > 0) this.timer = setTimeout(() => this.onGlobalTimeout(), timeout);
  }

  start(ep: Endpoint): void {
    const s = this.s;
    const r = this.route;
    if (s.hasBody && (r.retry.numRetries > 0 || r.mirrors.length > 0)) {
      bufferBody(s, BODY_BUFFER_LIMIT, (b) => {
        this.body = b;
        // Envoy: a body larger than the buffer limit disables retries for this request.
        if (!b.complete) this.retriesLeft = 0;
        this.begin(ep);
      });
    } else this.begin(ep);
  }

  private begin(ep: Endpoint): void {
    if (this.done) return;
    const r = this.route;
    if (r.mirrors.length > 0) mirrorRequest(this.s, r.mirrors, this.u.path, this.u.authority, this.s.hasBody ? this.body : null, r.timeoutMs);
    this.launch(ep, false, 0);
  }

  /** Whether this request's body can be sent again. */
  private replayable(): boolean {
    return !this.s.hasBody || (this.body !== null && this.body.complete);
  }

  launch(ep: Endpoint, isRetry: boolean, staleRetries: number): void {
    this.attempts++;
    if (this.route.retry.avoidPrevious) (this.tried ??= []).push(ep.key);
    if (this.route.attemptCountToUpstream) this.s.requestHeaders['x-envoy-attempt-count'] = String(this.attempts);
    this.current = new Attempt(this, ep, isRetry, staleRetries);
    this.current.start();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.current = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.backoff) clearTimeout(this.backoff);
    if (this.retrySlot) {
      this.retrySlot = false;
      this.cluster.retriesActive--;
    }
  }

  private abort(): void {
    const a = this.current;
    this.finish();
    a?.abort();
  }

  private onGlobalTimeout(): void {
    this.timer = undefined;
    const a = this.current;
    this.cluster.stats.upstream_rq_timeout++;
    if (a) {
      a.abort();
      this.cluster.outlier?.report(a.ep, Outcome.Timeout, 504);
    }
    this.localReply(504, UT_BODY, 'UT');
  }

  localReply(status: number, body: string, flag: string, headers?: Headers): void {
    this.finish();
    this.s.sendLocalReply(status, body, flag, headers);
  }

  overflow(): void {
    this.cluster.stats.upstream_rq_pending_overflow++;
    this.localReply(503, UO_BODY, 'UO', { 'x-envoy-overloaded': 'true' });
  }

  /** Tries another attempt after a retriable outcome; false when no retry is possible. */
  retry(from: Endpoint): boolean {
    if (this.retriesLeft <= 0) {
      if (this.route.retry.numRetries > 0) this.cluster.stats.upstream_rq_retry_limit_exceeded++;
      return false;
    }
    if (!this.replayable()) return false;
    const c = this.cluster;
    if (!this.retrySlot && c.retriesActive >= c.policy.maxRetries) {
      c.stats.upstream_rq_retry_overflow++;
      return false;
    }
    this.retriesLeft--;
    c.stats.upstream_rq_retry++;
    c.stats.upstream_rq_retry_backoff_exponential++;
    if (!this.retrySlot) {
      this.retrySlot = true;
      c.retriesActive++;
    }
    this.current = null;
    const delay = backoffMs(this.route.retry, this.attempts);
    this.backoff = setTimeout(() => {
      this.backoff = undefined;
      if (this.done) return;
      const ep = this.pickForRetry(from);
      if (!ep) {
        c.stats.upstream_cx_none_healthy++;
        this.localReply(503, 'no healthy upstream', 'UH');
        return;
      }
      this.launch(ep, true, 0);
    }, delay);
    return true;
  }

  private pickForRetry(from: Endpoint): Endpoint | null {
    const c = this.cluster;
    if (c.type === 'ORIGINAL_DST') return from;
    const p = this.route.retry;
    const tried = this.tried;
    // retryRemoteLocalities (previous_priorities): tried priorities left out (Istio always sets previous_hosts with it).
    const picker = (tried && p.previousPriorities > 0 ? c.retryPicker(tried, p.previousPriorities) : null) ?? c.picker;
    let e = picker.pick(this.u.hash);
    for (let i = 1; i < p.hostSelectionAttempts && e && tried && tried.includes(e.key); i++) e = picker.pick(this.u.hash === undefined ? undefined : (Math.random() * 2 ** 32) >>> 0);
    // LEAST_REQUEST favours a dead host (its attempts fail at once, so it never has active
    // requests): re-picking can keep landing on it. Take an untried host of the same priority directly.
    if (e && tried && tried.includes(e.key)) e = untried(c.endpoints, tried, e.priority) ?? e;
    return e;
  }

  /** A response arrived: retried, or sent downstream. Returns whether it is being sent. */
  onResponse(a: Attempt, status: number, grpcStatus: number, overloaded: boolean): boolean {
    const c = this.cluster;
    c.stats.recordStatus(status);
    c.outlier?.report(a.ep, Outcome.Response, status);
    if (!overloaded && retriableStatus(this.route.retry, status, grpcStatus) && this.retry(a.ep)) return false;
    if (this.attempts > 1) c.stats.upstream_rq_retry_success++;
    return true;
  }

  /** No response: connect failure, reset, per-try timeout. Retries, or answers 503/504. */
  onFailure(a: Attempt, err: unknown, reused: boolean, perTryTimeout: boolean): void {
    const s = this.s;
    const connectFail = !perTryTimeout && (isConnectFailure(err) || isConnectFailure((err as { cause?: unknown } | null)?.cause) || (a.session !== undefined && sessionConnectFailed(a.session)));
    if (s.headersSent) {
      this.finish();
      s.addFlag('UR');
      s.resetDownstream();
      return;
    }
    // Keep-alive race: the upstream closed an idle connection as we reused it. Not a retry. The host
    // may as well be the one dying: another host of the same priority when there is one (not for
    // ORIGINAL_DST or a hash policy, which pin the host).
    if (reused && !connectFail && !perTryTimeout && this.replayable() && a.staleRetries < STALE_CONNECTION_RETRIES) {
      this.cluster.stats.upstream_rq_retry++;
      this.attempts--;
      const pinned = this.cluster.type === 'ORIGINAL_DST' || this.u.hash !== undefined;
      this.launch((pinned ? undefined : untried(this.cluster.endpoints, [a.ep.key], a.ep.priority)) ?? a.ep, a.isRetry, a.staleRetries + 1);
      return;
    }
    this.cluster.outlier?.report(a.ep, connectFail ? Outcome.ConnectFailure : perTryTimeout ? Outcome.Timeout : Outcome.LocalReset, 503);
    const p = this.route.retry;
    const refused = (err as { code?: unknown } | null)?.code === 'ERR_HTTP2_STREAM_ERROR' && String((err as Error).message).endsWith(' 7');
    const retriable = perTryTimeout ? (p.on & (RETRY_5XX | RETRY_GATEWAY)) !== 0 : retriableReset(p, connectFail, refused);
    if (retriable && this.retry(a.ep)) return;
    s.env.log.debug?.(`upstream ${this.cluster.name} ${a.ep.key} failed: ${perTryTimeout ? 'per-try timeout' : String((err as { code?: unknown } | null)?.code ?? err)}`);
    if (perTryTimeout) {
      this.cluster.stats.recordStatus(504);
      this.localReply(504, UT_BODY, 'UT');
    } else {
      this.cluster.stats.recordStatus(503);
      if (connectFail) this.localReply(503, UF_BODY, 'UF');
      else this.localReply(503, UC_BODY, 'UC');
    }
  }

  /** Headers Envoy adds to the response it forwards. */
  decorate(h: Headers, upstreamStart: number): void {
    const u = this.u;
    if (!u.suppressEnvoyHeaders) h['x-envoy-upstream-service-time'] = String(Math.round(this.s.env.clock() - upstreamStart));
    if (this.route.attemptCountToDownstream) h['x-envoy-attempt-count'] = String(this.attempts);
    if (u.setCookie) {
      const cur = h['set-cookie'];
      h['set-cookie'] = cur === undefined ? [u.setCookie] : Array.isArray(cur) ? [...cur, u.setCookie] : [cur, u.setCookie];
    }
  }
}

/** A healthy, not ejected endpoint at `priority` whose key is not in `tried`, from a random start. */
function untried(endpoints: readonly Endpoint[], tried: readonly string[], priority: number): Endpoint | undefined {
  const n = endpoints.length;
  const start = Math.floor(Math.random() * n);
  for (let k = 0; k < n; k++) {
    const e = endpoints[(start + k) % n];
    if (e.healthy && !e.ejected && e.weight > 0 && e.priority === priority && !tried.includes(e.key)) return e;
  }
  return undefined;
}

/** Forwards the stream's request to `ep` of `cluster` under the route's timeout and retry policy. */
export function forwardHttp(s: Stream, cluster: Cluster, ep: Endpoint, route: CompiledRoute, u: UpstreamRequest): void {
  new Forwarder(s, cluster, route, u).start(ep);
}

export { forwardUpgrade, splice } from './upgrade.js';
