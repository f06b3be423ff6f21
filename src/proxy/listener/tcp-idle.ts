// tcp_proxy idle_timeout, as Envoy: when no byte has crossed the proxied connection in either
// direction for that long, both sides are closed. Envoy's default is 1 hour; 0 disables it.
// Every byte relayed is read from or written to the upstream socket, so its inactivity timer
// (reset by Node on each read and write) measures idleness of the whole pair.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError, durationMs } from '../wire.js';

export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000;

/** `idle_timeout` of a TcpProxy config in ms (absent: Envoy's 1 h; 0: never). */
export function tcpIdleTimeoutMs(v: unknown, path: string): number {
  const ms = durationMs(v, path);
  if (ms === undefined) return DEFAULT_TCP_IDLE_TIMEOUT_MS;
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new ConfigError(path, 'idle_timeout must not be negative');
  return ms;
}

/** Closes `down` and `up` after `ms` without traffic on the pair; `onIdle` counts it. */
export function armTcpIdleTimeout(down: Duplex, up: Socket, ms: number, onIdle?: () => void): void {
  if (!(ms > 0)) return;
  up.setTimeout(ms);
  up.once('timeout', () => {
    onIdle?.();
    up.destroy();
    down.destroy();
  });
}
