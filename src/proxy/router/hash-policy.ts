// RouteAction.hash_policy compiled once per push: header, cookie (generated with Set-Cookie when absent
// and a ttl is given, as Envoy does), connection_properties.source_ip, query_parameter; `terminal`
// stops at the first policy that produced a hash. Only routes with a hash policy pay anything.
import { randomBytes } from 'node:crypto';
import { ConfigError, type Obj, arr, bool, durationMs, isObj, obj, str } from '../wire.js';
import { combineHash, hash32 } from '../upstream/hash-lb.js';
import type { RequestView } from './request.js';

export interface HashInput {
  readonly view: RequestView;
  readonly downstreamAddress: string;
}

export interface HashResult {
  hash: number | undefined;
  /** A Set-Cookie value to add to the response (generated cookie). */
  setCookie: string | undefined;
}

type One = (s: HashInput, out: HashResult) => number | undefined;

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v;
    }
  }
  return undefined;
}

function compileOne(p: Obj, path: string): One {
  if (isObj(p.header)) {
    const name = str(p.header.header_name, `${path}.header.header_name`).toLowerCase();
    if (!name) throw new ConfigError(`${path}.header.header_name`, 'missing');
    return (s) => {
      const v = s.view.headers[name];
      if (v === undefined) return undefined;
      return hash32(Array.isArray(v) ? v.join(',') : v);
    };
  }
  if (isObj(p.cookie)) {
    const c = p.cookie;
    const name = str(c.name, `${path}.cookie.name`);
    if (!name) throw new ConfigError(`${path}.cookie.name`, 'missing');
    const ttlMs = durationMs(c.ttl, `${path}.cookie.ttl`);
    const cpath = str(c.path, `${path}.cookie.path`);
    const attrs = `${cpath ? `; Path=${cpath}` : ''}${ttlMs ? `; Max-Age=${Math.floor(ttlMs / 1000)}` : ''}; HttpOnly`;
    return (s, out) => {
      const raw = s.view.headers.cookie;
      const v = cookieValue(Array.isArray(raw) ? raw.join('; ') : raw, name);
      if (v !== undefined) return hash32(v);
      if (ttlMs === undefined) return undefined;
      const gen = randomBytes(8).toString('hex');
      out.setCookie = `${name}="${gen}"${attrs}`;
      return hash32(gen);
    };
  }
  if (isObj(p.connection_properties)) {
    if (!bool(p.connection_properties.source_ip, `${path}.connection_properties.source_ip`, false)) return () => undefined;
    return (s) => (s.downstreamAddress ? hash32(s.downstreamAddress) : undefined);
  }
  if (isObj(p.query_parameter)) {
    const name = str(p.query_parameter.name, `${path}.query_parameter.name`);
    const key = `${encodeURIComponent(name)}=`;
    return (s) => {
      const path = s.view.path;
      const q = path.indexOf('?');
      if (q < 0) return undefined;
      for (const kv of path.slice(q + 1).split('&')) if (kv.startsWith(key)) return hash32(kv.slice(key.length));
      return undefined;
    };
  }
  if (isObj(p.filter_state)) return () => undefined;
  throw new ConfigError(path, 'hash policy needs one of header, cookie, connection_properties, query_parameter, filter_state');
}

export type CompiledHashPolicy = (s: HashInput) => HashResult;

/** null when the route has no hash policy. */
export function compileHashPolicy(list: unknown, path: string): CompiledHashPolicy | null {
  const items = arr(list, path).map((p, i) => {
    const o = obj(p, `${path}[${i}]`);
    return { fn: compileOne(o, `${path}[${i}]`), terminal: bool(o.terminal, `${path}[${i}].terminal`, false) };
  });
  if (items.length === 0) return null;
  return (s) => {
    const out: HashResult = { hash: undefined, setCookie: undefined };
    for (const it of items) {
      const h = it.fn(s, out);
      if (h === undefined) continue;
      out.hash = combineHash(out.hash, h);
      if (it.terminal) break;
    }
    return out;
  };
}
