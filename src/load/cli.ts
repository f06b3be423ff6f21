// `weft load`: fortio-style flags, e.g.
//   weft load -c 2 -qps 0 -n 20 -loglevel Warning http://ratings:9080/ratings/0
//   weft load -curl http://httpbin:8000/get
// Returns the exit code: 0 done, 1 failed run or transport error, 2 bad usage.
import { CallError } from './http-call.js';
import { writeFile } from 'node:fs/promises';
import { formatFortioReport, loadResultToJson } from './report.js';
import { curlOnce, runLoad } from './run-load.js';
import type { LoadOptions } from './types.js';

export const LOAD_USAGE = `Usage: weft load [flags] URL
  -c N            parallel connections (default 8)
  -qps Q          total queries per second, 0 = as fast as possible (default 8)
  -n N            total number of calls (default: run for -t)
  -t DURATION     how long to run when -n is not given, e.g. 5s, 1m (default 5s)
  -uniform        spread the connections' calls evenly in time
  -H 'Name: v'    extra header (repeatable)
  -X METHOD       HTTP method (default GET, POST with -payload)
  -payload TEXT   request body
  -timeout D      per-request timeout (default 3s)
  -p LIST         percentiles to report (default 50,75,90,99,99.9)
  -curl           make one request and print the response headers and body
  -json FILE      also write the result as fortio-style JSON to FILE (- for stdout, instead of the text)
  -loglevel L     accepted for fortio compatibility, ignored
HTTP_PROXY / NO_PROXY are honoured: requests go in absolute form to the sidecar.
`;

const BOOL_FLAGS = new Set(['curl', 'uniform', 'a', 'allow-initial-errors', 'quiet', 'k', 'h', 'help', 'stdclient', 'jitter']);
const VALUE_FLAGS = new Set(['c', 'qps', 'n', 't', 'H', 'X', 'payload', 'timeout', 'p', 'loglevel', 'r', 'labels', 'json']);

export class UsageError extends Error {}

/** Parses a Go-style duration ("5s", "1m30s", "250ms") or a bare number of seconds. Result in ms. */
export function parseDuration(text: string, flag: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || text === '') throw new UsageError(`-${flag}: invalid duration ${JSON.stringify(text)} (examples: 5s, 1m, 250ms)`);
  return total;
}

function num(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`-${flag}: expected a number, got ${JSON.stringify(text)}`);
  return n;
}

export interface ParsedLoadArgs {
  curl: boolean;
  /** -json target: a file path, or "-" for stdout. */
  json?: string;
  help: boolean;
  options: LoadOptions;
}

export function parseLoadArgs(argv: readonly string[]): ParsedLoadArgs {
  const opts: LoadOptions = { url: '', headers: [] };
  let curl = false;
  let help = false;
  let json: string | undefined;
  const positional: string[] = [];
  const args = [...argv];
  if (args[0] === 'curl') {
    curl = true;
    args.shift();
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (BOOL_FLAGS.has(name)) {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (v !== 'true' && v !== 'false') throw new UsageError(`-${name}: expected true or false, got ${JSON.stringify(v)}`);
      if (name === 'curl') curl = v === 'true';
      else if (name === 'uniform') opts.uniform = v === 'true';
      else if (name === 'h' || name === 'help') help = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown flag ${arg}\n${LOAD_USAGE}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= args.length) throw new UsageError(`-${name}: missing value`);
      value = args[++i];
    }
    switch (name) {
      case 'c': opts.connections = num(value, name); if (!Number.isInteger(opts.connections) || opts.connections < 1) throw new UsageError(`-c: expected a positive integer, got ${value}`); break;
      case 'qps': opts.qps = num(value, name); break;
      case 'n': opts.requests = num(value, name); if (!Number.isInteger(opts.requests) || opts.requests < 0) throw new UsageError(`-n: expected a non-negative integer, got ${value}`); break;
      case 't': opts.durationMs = parseDuration(value, name); break;
      case 'timeout': opts.timeoutMs = parseDuration(value, name); break;
      case 'X': opts.method = value; break;
      case 'payload': opts.payload = value; break;
      case 'H': {
        const colon = value.indexOf(':');
        if (colon <= 0) throw new UsageError(`-H: expected "Name: value", got ${JSON.stringify(value)}`);
        opts.headers?.push([value.slice(0, colon).trim(), value.slice(colon + 1).trim()]);
        break;
      }
      case 'p':
        opts.percentiles = value.split(',').map((s) => num(s.trim(), name));
        if (opts.percentiles.some((p) => p < 0 || p > 100)) throw new UsageError(`-p: percentiles must be between 0 and 100, got ${value}`);
        break;
      case 'json': json = value; break;
      default: break; // -loglevel, -r, -labels: accepted for fortio compatibility
    }
  }
  if (!help) {
    if (positional.length !== 1) throw new UsageError(positional.length === 0 ? `missing URL\n${LOAD_USAGE}` : `expected one URL, got ${positional.join(' ')}`);
    opts.url = /^[a-z][a-z0-9+.-]*:\/\//i.test(positional[0]) ? positional[0] : `http://${positional[0]}`;
  }
  return { curl, help, json, options: opts };
}

function formatCurl(r: { status: number; statusMessage: string; httpVersion: string; rawHeaders: string[]; body: Buffer }): string {
  const lines = [`HTTP/${r.httpVersion} ${r.status} ${r.statusMessage}`];
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) lines.push(`${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}`);
  return `${lines.join('\n')}\n\n${r.body.toString('utf8')}`;
}

export async function loadCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  let parsed: ParsedLoadArgs;
  try {
    parsed = parseLoadArgs(argv);
  } catch (e) {
    out.write(`weft load: ${(e as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    out.write(LOAD_USAGE);
    return 0;
  }
  try {
    if (parsed.curl) {
      const r = await curlOnce(parsed.options);
      out.write(formatCurl(r));
      if (r.body.length > 0 && r.body[r.body.length - 1] !== 0x0a) out.write('\n');
      return 0;
    }
    const controller = new AbortController();
    const onSigint = (): void => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      const result = await runLoad({ ...parsed.options, signal: controller.signal });
      if (parsed.json === '-') out.write(`${JSON.stringify(loadResultToJson(result), null, 2)}\n`);
      else out.write(formatFortioReport(result));
      if (parsed.json !== undefined && parsed.json !== '-') {
        await writeFile(parsed.json, `${JSON.stringify(loadResultToJson(result), null, 2)}\n`);
        out.write(`Successfully wrote ${parsed.json}\n`);
      }
      return result.calls > 0 ? 0 : 1;
    } finally {
      process.off('SIGINT', onSigint);
    }
  } catch (e) {
    const kind = e instanceof CallError ? ` (${e.kind})` : '';
    out.write(`weft load: ${parsed.options.url}: ${(e as Error).message}${kind}\n`);
    return 1;
  }
}
