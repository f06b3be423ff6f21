// Public API of `weft load` (Weft's fortio).
export { runLoad, curlOnce } from './run-load.js';
export { formatFortioReport, loadResultToJson } from './report.js';
export { loadCommand, parseLoadArgs, parseDuration, LOAD_USAGE, UsageError } from './cli.js';
export { proxyForUrl, matchesNoProxy, parseProxySetting, type ProxyTarget } from './proxy-env.js';
export type { LoadOptions, LoadResult, CurlResult, ErrorKind } from './types.js';
export type { HistogramData, Stats, Bucket } from './histogram.js';
