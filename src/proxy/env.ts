// Shared services every layer of one proxy reaches (no globals: several proxies may share a process).
import type { StatsStore } from './stats.js';
import type { ClusterManager } from './upstream/cluster.js';

export interface Logger {
  debug?(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export interface ProxyEnv {
  readonly clusters: ClusterManager;
  readonly stats: StatsStore;
  readonly log: Logger;
  /** Milliseconds, monotonic enough for durations (default performance.now). */
  readonly clock: () => number;
  /** True while draining: responses say Connection: close. */
  draining: boolean;
}
