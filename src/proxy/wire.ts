// Readers for Envoy resources as plain objects (snake_case, Any as {'@type'}, wrappers as {value}).
// Every reader takes the field path so a config error names where it is (the caller NACKs with it).

export type Obj = Record<string, unknown>;

export class ConfigError extends Error {
  constructor(path: string, msg: string) {
    super(`${path}: ${msg}`);
    this.name = 'ConfigError';
  }
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(path, 'expected an object');
  return v;
}

export function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, 'expected a list');
  return v;
}

export function str(v: unknown, path: string, def = ''): string {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new ConfigError(path, 'expected a string');
  return v;
}

/** Numbers, int64-as-string and UInt32Value ({value}) all read as a number. */
export function num(v: unknown, path: string, def: number): number {
  if (v === undefined || v === null) return def;
  if (isObj(v)) return num(v.value, path, def);
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new ConfigError(path, 'expected a number');
  return n;
}

/** bool or BoolValue ({value}). */
export function bool(v: unknown, path: string, def: boolean): boolean {
  if (v === undefined || v === null) return def;
  if (isObj(v)) return v.value === undefined ? false : bool(v.value, path, def);
  if (typeof v !== 'boolean') throw new ConfigError(path, 'expected a boolean');
  return v;
}

/** Duration as {seconds, nanos} or the JSON form "1.5s"; undefined when absent. */
export function durationMs(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    if (!m) throw new ConfigError(path, `bad duration ${JSON.stringify(v)}`);
    return Number(m[1]) * 1000;
  }
  if (!isObj(v)) throw new ConfigError(path, 'expected a duration');
  return num(v.seconds, `${path}.seconds`, 0) * 1000 + num(v.nanos, `${path}.nanos`, 0) / 1e6;
}

/** The '@type' of an Any-shaped object, or '' when it has none. */
export function anyType(v: Obj): string {
  const t = v['@type'];
  return typeof t === 'string' ? t : '';
}

export function socketAddress(v: unknown, path: string): { address: string; port: number } {
  const a = obj(v, path);
  const sa = obj(a.socket_address, `${path}.socket_address`);
  const address = str(sa.address, `${path}.socket_address.address`);
  const port = num(sa.port_value, `${path}.socket_address.port_value`, -1);
  if (!address) throw new ConfigError(`${path}.socket_address.address`, 'missing');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`${path}.socket_address.port_value`, 'missing or out of range');
  return { address, port };
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
