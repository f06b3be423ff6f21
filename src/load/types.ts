// Options and results of `weft load`, modelled on fortio's load command.
import type { HistogramData, Stats } from './histogram.js';

export interface LoadOptions {
  url: string;
  /** -c: parallel connections (workers). Default 8. */
  connections?: number;
  /** -qps: total queries per second; 0 or negative means as fast as possible. Default 8. */
  qps?: number;
  /** -n: total number of calls; 0/undefined means run for `durationMs`. */
  requests?: number;
  /** -t: run duration in ms when `requests` is not set. Default 5000. */
  durationMs?: number;
  /** -uniform: stagger the workers' start so calls are evenly spread (only with a qps target). */
  uniform?: boolean;
  /** -H: extra request headers, in order. */
  headers?: [string, string][];
  /** -X: method; default GET, or POST when a payload is given. */
  method?: string;
  /** -payload: request body. */
  payload?: string | Buffer;
  /** -timeout: per-request timeout in ms. Default 3000. */
  timeoutMs?: number;
  /** -p: percentile targets. Default 50, 75, 90, 99, 99.9. */
  percentiles?: number[];
  /** Environment for HTTP_PROXY / NO_PROXY (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /** Stops the run early (the calls in flight finish). */
  signal?: AbortSignal;
}

export type ErrorKind = 'connection refused' | 'timeout' | 'connection reset' | 'dns failure' | 'other';

export interface LoadResult {
  url: string;
  /** Proxy used (host:port) when HTTP_PROXY applied, else undefined. */
  proxy?: string;
  method: string;
  connections: number;
  /** Requested qps; 0 means max. */
  requestedQps: number;
  requestedCalls?: number;
  requestedDurationMs?: number;
  uniform: boolean;
  startTime: Date;
  actualDurationMs: number;
  actualQps: number;
  /** Calls made (successful or not). */
  calls: number;
  /** Latency in seconds, from the intended send time when pacing. */
  durationHistogram: HistogramData;
  /** Latency of failed calls (transport errors and non-2xx). */
  errorStats: Stats;
  /** Count per HTTP status code; transport errors count under -1, like fortio. */
  retCodes: Map<number, number>;
  /** Transport errors by kind. */
  errors: Map<ErrorKind, number>;
  /** First error message seen per kind, to explain the counts. */
  errorSamples: Map<ErrorKind, string>;
  socketsUsed: number;
  headerSizes: Stats;
  totalSizes: Stats;
}

export interface CurlResult {
  status: number;
  statusMessage: string;
  httpVersion: string;
  rawHeaders: string[];
  body: Buffer;
}
