// Envoy's header value formatters (%COMMAND% in request/response_headers_to_add), compiled once per
// push into a list of literal strings and getters, so a request only concatenates. Supported:
// DOWNSTREAM_REMOTE_ADDRESS[_WITHOUT_PORT] (the connection's peer, as DOWNSTREAM_DIRECT_*),
// DOWNSTREAM_LOCAL_ADDRESS[_WITHOUT_PORT], UPSTREAM_REMOTE_ADDRESS[_WITHOUT_PORT] (empty before an
// upstream host is chosen), HOSTNAME, START_TIME[(strftime)], REQ(name[?alt])[:maxlen], PROTOCOL.
// `%%` is a literal `%`; any other `%` not starting a known command is a config error, as in Envoy.
import os from 'node:os';
import type http from 'node:http';
import { ConfigError } from '../wire.js';

type Headers = Record<string, string | string[] | undefined>;

/** What formatters read: the Stream satisfies it. */
export interface HeaderFormatContext {
  readonly req: { readonly socket?: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number } | null; readonly httpVersionMajor: number; readonly httpVersion: string; readonly headers: http.IncomingHttpHeaders };
  /** address:port of the upstream endpoint of the last attempt ('' before one is chosen). */
  readonly upstreamHost: string;
  readonly requestHeaders: Headers;
  /** Monotonic start (env clock ms) and the clock, to tell the wall-clock start time. */
  readonly startMs: number;
  readonly env: { clock(): number };
}

export type Formatter = (ctx: HeaderFormatContext, h: Headers) => string;
type Getter = (ctx: HeaderFormatContext, h: Headers) => string;

const COMMAND = /%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/y;

function hostPort(host: string | undefined, port: number | undefined, withPort: boolean): string {
  if (!host) return '';
  if (!withPort) return host;
  return host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}`;
}

function withoutPort(addr: string): string {
  if (addr.startsWith('[')) return addr.slice(1, addr.indexOf(']'));
  const c = addr.lastIndexOf(':');
  return c < 0 ? addr : addr.slice(0, c);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** START_TIME: Envoy's default is ISO 8601 UTC with milliseconds; otherwise a strftime subset (UTC). */
function startTime(fmt: string | undefined): Getter {
  const wall = (ctx: HeaderFormatContext): Date => new Date(Date.now() - (ctx.env.clock() - ctx.startMs));
  if (!fmt) return (ctx) => wall(ctx).toISOString();
  return (ctx) => {
    const d = wall(ctx);
    const ms = d.getTime();
    return fmt.replace(/%([0-9]?f|[YmdHMSsjzZ%])/g, (_m, k: string) => {
      switch (k) {
        case 'Y': return String(d.getUTCFullYear());
        case 'm': return pad(d.getUTCMonth() + 1);
        case 'd': return pad(d.getUTCDate());
        case 'H': return pad(d.getUTCHours());
        case 'M': return pad(d.getUTCMinutes());
        case 'S': return pad(d.getUTCSeconds());
        case 's': return String(Math.floor(ms / 1000));
        case 'j': return pad(Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3);
        case 'z': return '+0000';
        case 'Z': return 'UTC';
        case '%': return '%';
        default: { // %f = 9 digits of the fraction, %Nf = N digits (millisecond precision here)
          const digits = k.length === 1 ? 9 : Number(k[0]);
          return pad(ms % 1000, 3).padEnd(9, '0').slice(0, digits);
        }
      }
    });
  };
}

function command(name: string, arg: string | undefined, max: number | undefined, path: string): Getter {
  const noArg = (g: Getter): Getter => {
    if (arg !== undefined) throw new ConfigError(path, `%${name}% takes no argument`);
    return g;
  };
  switch (name) {
    case 'DOWNSTREAM_REMOTE_ADDRESS':
    case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS':
      return noArg((c) => hostPort(c.req.socket?.remoteAddress, c.req.socket?.remotePort, true));
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
    case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT':
      return noArg((c) => c.req.socket?.remoteAddress ?? '');
    case 'DOWNSTREAM_LOCAL_ADDRESS':
      return noArg((c) => hostPort(c.req.socket?.localAddress, c.req.socket?.localPort, true));
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT':
      return noArg((c) => c.req.socket?.localAddress ?? '');
    case 'UPSTREAM_REMOTE_ADDRESS':
      return noArg((c) => c.upstreamHost);
    case 'UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
      return noArg((c) => withoutPort(c.upstreamHost));
    case 'HOSTNAME': {
      const host = os.hostname();
      return noArg(() => host);
    }
    case 'PROTOCOL':
      return noArg((c) => (c.req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${c.req.httpVersion}`));
    case 'START_TIME':
      return startTime(arg);
    case 'REQ': {
      if (!arg) throw new ConfigError(path, '%REQ(header)% needs a header name');
      const [main, alt] = arg.toLowerCase().split('?');
      return (c) => {
        // Request-side ops read the headers being built; response-side ops the request's.
        const src = c.requestHeaders;
        let v = src[main] ?? (alt ? src[alt] : undefined);
        if (v === undefined && main === 'host') v = src[':authority'];
        const s = v === undefined ? '' : Array.isArray(v) ? v.join(',') : v;
        return max !== undefined ? s.slice(0, max) : s;
      };
    }
    default:
      throw new ConfigError(path, `unsupported header formatter %${name}%`);
  }
}

/** Compiles a header value: `format` null when it has no formatter (then `value` is the literal, `%%` unescaped). */
export function compileHeaderValue(value: string, path: string): { value: string; format: Formatter | null } {
  if (!value.includes('%')) return { value, format: null };
  const parts: (string | Getter)[] = [];
  let lit = '';
  let i = 0;
  while (i < value.length) {
    const p = value.indexOf('%', i);
    if (p < 0) {
      lit += value.slice(i);
      break;
    }
    lit += value.slice(i, p);
    if (value[p + 1] === '%') {
      lit += '%';
      i = p + 2;
      continue;
    }
    COMMAND.lastIndex = p;
    const m = COMMAND.exec(value);
    if (!m) throw new ConfigError(path, `invalid header value ${JSON.stringify(value)}: a % at ${p} starts no %COMMAND% (write %% for a literal %)`);
    if (lit) parts.push(lit);
    lit = '';
    parts.push(command(m[1], m[2], m[3] === undefined ? undefined : Number(m[3]), path));
    i = p + m[0].length;
  }
  if (lit) parts.push(lit);
  if (parts.every((x) => typeof x === 'string')) return { value: parts.join(''), format: null };
  if (parts.length === 1) return { value, format: parts[0] as Getter };
  return { value, format: (ctx, h) => {
    let out = '';
    for (const x of parts) {
      if (typeof x === 'string') out += x;
      else {
        const v = x(ctx, h);
        // Envoy: a formatter with no value within a larger string contributes nothing ("-" only in access logs).
        out += v;
      }
    }
    return out;
  } };
}
