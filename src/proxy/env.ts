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
  /** Called once per finished downstream request when set (nothing is built otherwise). */
  readonly accessLog?: (entry: AccessLogEntry) => void;
}

/** One request as Envoy's access log would describe it. */
export interface AccessLogEntry {
  startTime: string;
  method: string;
  authority: string;
  path: string;
  protocol: string;
  /** 0 when no response was sent (downstream went away first). */
  responseCode: number;
  /** Envoy response flags (NR, UH, UF, UC, UR, UT, NC, DPE) comma-separated, '-' when none. */
  responseFlags: string;
  /** Envoy's response code details, e.g. rbac_access_denied_matched_policy[ns[NS]-policy[NAME]-rule[N]]; '-' when none. */
  responseCodeDetails: string;
  durationMs: number;
  upstreamCluster: string;
  upstreamHost: string;
  requestId: string;
  routeName: string;
  downstreamRemoteAddress: string;
  /** The response was fully written. */
  completed: boolean;
}
