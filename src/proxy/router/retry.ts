// Route retry_policy compiled once per push into bit flags and numbers, so deciding whether an
// attempt's outcome is retried is a few integer tests.
import { ConfigError, arr, durationMs, isObj, num, obj, str } from '../wire.js';

export const RETRY_5XX = 1;
export const RETRY_GATEWAY = 2;
export const RETRY_RESET = 4;
export const RETRY_CONNECT_FAILURE = 8;
export const RETRY_REFUSED_STREAM = 16;
export const RETRY_4XX = 32;
export const RETRY_STATUS_CODES = 64;
export const RETRY_GRPC_CANCELLED = 128;
export const RETRY_GRPC_DEADLINE = 256;
export const RETRY_GRPC_INTERNAL = 512;
export const RETRY_GRPC_EXHAUSTED = 1024;
export const RETRY_GRPC_UNAVAILABLE = 2048;
export const RETRY_GRPC_ANY = RETRY_GRPC_CANCELLED | RETRY_GRPC_DEADLINE | RETRY_GRPC_INTERNAL | RETRY_GRPC_EXHAUSTED | RETRY_GRPC_UNAVAILABLE;

const CONDITIONS: Record<string, number> = {
  '5xx': RETRY_5XX, 'gateway-error': RETRY_GATEWAY, reset: RETRY_RESET, 'reset-before-request': RETRY_RESET,
  'connect-failure': RETRY_CONNECT_FAILURE, 'refused-stream': RETRY_REFUSED_STREAM, 'retriable-4xx': RETRY_4XX,
  'retriable-status-codes': RETRY_STATUS_CODES, cancelled: RETRY_GRPC_CANCELLED, 'deadline-exceeded': RETRY_GRPC_DEADLINE,
  internal: RETRY_GRPC_INTERNAL, 'resource-exhausted': RETRY_GRPC_EXHAUSTED, unavailable: RETRY_GRPC_UNAVAILABLE,
  // Accepted, never matched here (no rate-limit headers or HTTP/3).
  'envoy-ratelimited': 0, 'retriable-headers': 0, 'http3-post-connect-failure': 0,
};

export interface RetryPolicy {
  readonly on: number;
  readonly numRetries: number;
  /** 0 = none. */
  readonly perTryTimeoutMs: number;
  readonly statusCodes: ReadonlySet<number>;
  /** Jittered exponential backoff (Envoy: base 25 ms, max 10 x base). */
  readonly baseMs: number;
  readonly maxMs: number;
  /** retry_host_predicate previous_hosts: avoid hosts already tried, up to this many re-picks. */
  readonly avoidPrevious: boolean;
  readonly hostSelectionAttempts: number;
  /** retry_priority previous_priorities: its update_frequency (0 = not configured). */
  readonly previousPriorities: number;
}

export const NO_RETRY: RetryPolicy = {
  on: 0, numRetries: 0, perTryTimeoutMs: 0, statusCodes: new Set(), baseMs: 25, maxMs: 250, avoidPrevious: false, hostSelectionAttempts: 1, previousPriorities: 0,
};

export function compileRetryPolicy(rp: unknown, path: string): RetryPolicy {
  if (!isObj(rp)) return NO_RETRY;
  let on = 0;
  for (const c of str(rp.retry_on, `${path}.retry_on`).split(',')) {
    const name = c.trim();
    if (!name) continue;
    const bit = CONDITIONS[name];
    if (bit === undefined) throw new ConfigError(`${path}.retry_on`, `unknown retry condition ${JSON.stringify(name)}`);
    on |= bit;
  }
  const codes = new Set(arr(rp.retriable_status_codes, `${path}.retriable_status_codes`).map((c, i) => num(c, `${path}.retriable_status_codes[${i}]`, 0)));
  const bo = obj(rp.retry_back_off, `${path}.retry_back_off`);
  const baseMs = durationMs(bo.base_interval, `${path}.retry_back_off.base_interval`) ?? 25;
  if (baseMs <= 0) throw new ConfigError(`${path}.retry_back_off.base_interval`, 'must be greater than zero');
  const maxMs = durationMs(bo.max_interval, `${path}.retry_back_off.max_interval`) ?? baseMs * 10;
  const preds = arr(rp.retry_host_predicate, `${path}.retry_host_predicate`).map((p, i) => str(obj(p, `${path}.retry_host_predicate[${i}]`).name, `${path}.retry_host_predicate[${i}].name`));
  return {
    on,
    numRetries: num(rp.num_retries, `${path}.num_retries`, 1),
    perTryTimeoutMs: durationMs(rp.per_try_timeout, `${path}.per_try_timeout`) ?? 0,
    statusCodes: codes,
    baseMs,
    maxMs: Math.max(baseMs, maxMs),
    avoidPrevious: preds.some((n) => n.endsWith('previous_hosts')),
    hostSelectionAttempts: Math.max(1, num(rp.host_selection_retry_max_attempts, `${path}.host_selection_retry_max_attempts`, 1)),
    previousPriorities: retryPriority(rp.retry_priority, `${path}.retry_priority`),
  };
}

const PREVIOUS_PRIORITIES = 'envoy.retry_priorities.previous_priorities';

/** update_frequency of a previous_priorities retry priority (0 when none); other retry priorities are refused. */
function retryPriority(v: unknown, path: string): number {
  if (!isObj(v)) return 0;
  const name = str(v.name, `${path}.name`);
  const tc = obj(v.typed_config, `${path}.typed_config`);
  const type = str(tc['@type'], `${path}.typed_config['@type']`);
  if (name !== PREVIOUS_PRIORITIES && !type.endsWith('.PreviousPrioritiesConfig')) throw new ConfigError(`${path}.name`, `unsupported retry priority ${JSON.stringify(name || type)}`);
  const freq = num(tc.update_frequency, `${path}.typed_config.update_frequency`, 0);
  if (freq <= 0) throw new ConfigError(`${path}.typed_config.update_frequency`, 'must be greater than zero');
  return freq;
}

/** Whether a response is retried under the policy (x-envoy-overloaded answers never are). */
export function retriableStatus(p: RetryPolicy, status: number, grpcStatus: number): boolean {
  const on = p.on;
  if (status >= 500 && on & RETRY_5XX) return true;
  if ((status === 502 || status === 503 || status === 504) && on & RETRY_GATEWAY) return true;
  if (status === 409 && on & RETRY_4XX) return true;
  if (on & RETRY_STATUS_CODES && p.statusCodes.has(status)) return true;
  if (grpcStatus > 0 && on & RETRY_GRPC_ANY) {
    return (grpcStatus === 1 && (on & RETRY_GRPC_CANCELLED) !== 0) || (grpcStatus === 4 && (on & RETRY_GRPC_DEADLINE) !== 0)
      || (grpcStatus === 13 && (on & RETRY_GRPC_INTERNAL) !== 0) || (grpcStatus === 8 && (on & RETRY_GRPC_EXHAUSTED) !== 0)
      || (grpcStatus === 14 && (on & RETRY_GRPC_UNAVAILABLE) !== 0);
  }
  return false;
}

/** Whether a failure without a response is retried: connect failure, reset, refused stream, per-try timeout. */
export function retriableReset(p: RetryPolicy, connectFailure: boolean, refused: boolean): boolean {
  const on = p.on;
  if (on & (RETRY_5XX | RETRY_GATEWAY | RETRY_RESET)) return true;
  if (connectFailure && on & RETRY_CONNECT_FAILURE) return true;
  return refused && (on & RETRY_REFUSED_STREAM) !== 0;
}

/** Envoy's jittered exponential backoff: uniform in [0, min(base x (2^n - 1), max)). */
export function backoffMs(p: RetryPolicy, retry: number): number {
  const span = Math.min(p.baseMs * (2 ** Math.min(retry, 20) - 1), p.maxMs);
  return Math.floor(Math.random() * span);
}
