// A small schema DSL: schemas are data (type, enum, range, required fields, custom checks) and one walker
// checks a plain JS value against them, collecting issues with the field path where each was found.

import { didYouMean } from '../didyoumean.js';
import type { PathSeg } from '../diagnostics.js';

export interface Issue {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  path: PathSeg[];
  /** Point at the key (unknown/deprecated field) or at the value. */
  at: 'key' | 'value';
  /** Where to point when it differs from `path` (a missing field points at its parent). */
  posPath?: PathSeg[];
}

export class Ctx {
  readonly issues: Issue[] = [];
  error(path: PathSeg[], code: string, message: string, at: 'key' | 'value' = 'value', posPath?: PathSeg[]): void {
    this.issues.push({ severity: 'error', code, message, path, at, posPath });
  }
  warn(path: PathSeg[], code: string, message: string, at: 'key' | 'value' = 'value'): void {
    this.issues.push({ severity: 'warning', code, message, path, at });
  }
  errorCount(): number {
    return this.issues.filter((i) => i.severity === 'error').length;
  }
}

// Schema-specific checks get the value already type-checked.
export type Check<T> = (v: T, path: PathSeg[], ctx: Ctx) => void;

interface Base<T> {
  /** Accepted, with this warning (deprecated fields Istio still serves). */
  deprecated?: string;
  check?: Check<T>;
}
export type Obj = Record<string, unknown>;
export type Schema =
  | ({ t: 'string'; enum?: readonly string[]; deprecatedValues?: Readonly<Record<string, string>> } & Base<string>)
  | ({ t: 'int'; min?: number; max?: number } & Base<number>)
  | ({ t: 'number'; min?: number; max?: number } & Base<number>)
  | ({ t: 'bool' } & Base<boolean>)
  | ({ t: 'duration'; minMs?: number } & Base<string>)
  | ({ t: 'intOrString' } & Base<number | string>)
  | ({ t: 'object'; fields: Readonly<Record<string, Schema>>; required?: readonly string[]; oneOf?: readonly string[] } & Base<Obj>)
  | ({ t: 'list'; of: Schema; minItems?: number } & Base<unknown[]>)
  | ({ t: 'map'; values: Schema; keyCheck?: Check<string> } & Base<Obj>)
  | ({ t: 'any' } & Base<unknown>)
  | ({ t: 'lazy'; get: () => Schema } & Base<unknown>);

type Opts<S> = Omit<S, 't'>;
type Of<T extends Schema['t']> = Extract<Schema, { t: T }>;

export const str = (o: Partial<Opts<Of<'string'>>> = {}): Schema => ({ t: 'string', ...o });
export const enm = (values: readonly string[], o: Partial<Opts<Of<'string'>>> = {}): Schema => ({ t: 'string', enum: values, ...o });
export const int = (min?: number, max?: number, o: Partial<Opts<Of<'int'>>> = {}): Schema => ({ t: 'int', min, max, ...o });
export const num = (min?: number, max?: number, o: Partial<Opts<Of<'number'>>> = {}): Schema => ({ t: 'number', min, max, ...o });
export const bool = (o: Partial<Opts<Of<'bool'>>> = {}): Schema => ({ t: 'bool', ...o });
export const dur = (minMs?: number, o: Partial<Opts<Of<'duration'>>> = {}): Schema => ({ t: 'duration', minMs, ...o });
export const intOrStr = (o: Partial<Opts<Of<'intOrString'>>> = {}): Schema => ({ t: 'intOrString', ...o });
export const obj = (fields: Record<string, Schema>, o: Partial<Opts<Of<'object'>>> = {}): Schema => ({ t: 'object', fields, ...o });
export const list = (of: Schema, o: Partial<Opts<Of<'list'>>> = {}): Schema => ({ t: 'list', of, ...o });
export const map = (values: Schema, o: Partial<Opts<Of<'map'>>> = {}): Schema => ({ t: 'map', values, ...o });
export const any = (): Schema => ({ t: 'any' });
export const lazy = (get: () => Schema): Schema => ({ t: 'lazy', get });
export const strList = (o: Partial<Opts<Of<'list'>>> = {}): Schema => list(str(), o);
export const strMap = (): Schema => map(str());
export const deprecated = (s: Schema, message: string): Schema => ({ ...s, deprecated: message });
export const withCheck = <T>(s: Schema, check: Check<T>): Schema => ({ ...s, check: check as Check<never> } as Schema);

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  return `${typeof v} ${JSON.stringify(v) ?? typeof v}`;
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go duration syntax (`2s`, `500ms`, `1m`, `1h30m`, `1.5s`) -> milliseconds, or undefined if malformed. */
export function parseDuration(s: string): number | undefined {
  if (!/^((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNITS[m[2]];
  return ms;
}

function typeError(path: PathSeg[], ctx: Ctx, want: string, v: unknown): void {
  ctx.error(path, 'WEFT-TYPE', `expected ${want}, got ${describe(v)}`);
}

function range(n: number, s: { min?: number; max?: number }, path: PathSeg[], ctx: Ctx): boolean {
  if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
    const r = s.max === undefined ? `>= ${s.min}` : s.min === undefined ? `<= ${s.max}` : `between ${s.min} and ${s.max}`;
    ctx.error(path, 'WEFT-RANGE', `${n} is out of range (must be ${r})`);
    return false;
  }
  return true;
}

/** Checks `v` against `s`; `v` is never null/undefined here (absent optional fields are skipped by the parent). */
export function walk(s: Schema, v: unknown, path: PathSeg[], ctx: Ctx): void {
  switch (s.t) {
    case 'lazy': walk(s.get(), v, path, ctx); return;
    case 'any': break;
    case 'string':
      if (typeof v !== 'string') return typeError(path, ctx, s.enum ? `one of ${s.enum.join(', ')}` : 'a string', v);
      if (s.deprecatedValues?.[v] !== undefined) ctx.warn(path, 'WEFT-DEPRECATED', s.deprecatedValues[v]);
      else if (s.enum && !s.enum.includes(v)) {
        ctx.error(path, 'WEFT-ENUM', `invalid value "${v}": must be one of ${s.enum.join(', ')}${didYouMean(v, s.enum)}`);
      }
      break;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return typeError(path, ctx, 'an integer', v);
      range(v, s, path, ctx);
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return typeError(path, ctx, 'a number', v);
      range(v, s, path, ctx);
      break;
    case 'bool':
      if (typeof v !== 'boolean') return typeError(path, ctx, 'true or false', v);
      break;
    case 'intOrString':
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) return typeError(path, ctx, 'an integer or a string', v);
      break;
    case 'duration': {
      if (typeof v !== 'string') return typeError(path, ctx, 'a duration string (e.g. 2s, 500ms, 1m)', v);
      const ms = parseDuration(v);
      if (ms === undefined) return ctx.error(path, 'WEFT-DURATION', `invalid duration ${JSON.stringify(v)} (use e.g. 2s, 500ms, 1m)`);
      if (s.minMs !== undefined && ms < s.minMs) {
        return ctx.error(path, 'WEFT-DURATION', `duration ${JSON.stringify(v)} is too short (must be at least ${s.minMs}ms)`);
      }
      // Istio keeps millisecond precision only where it bounds a duration (ValidateDuration).
      if (s.minMs !== undefined && Math.abs(ms - Math.round(ms)) > 1e-6) {
        return ctx.error(path, 'WEFT-DURATION', `duration ${JSON.stringify(v)} is finer than a millisecond; only millisecond precision is supported`);
      }
      break;
    }
    case 'list':
      if (!Array.isArray(v)) return typeError(path, ctx, 'a list', v);
      if (s.minItems !== undefined && v.length < s.minItems) {
        ctx.error(path, 'WEFT-REQUIRED', s.minItems === 1 ? 'must not be empty' : `needs at least ${s.minItems} items`);
      }
      v.forEach((item, i) => {
        if (item === null || item === undefined) ctx.error([...path, i], 'WEFT-TYPE', 'list item is empty');
        else walk(s.of, item, [...path, i], ctx);
      });
      break;
    case 'map':
      if (!isObj(v)) return typeError(path, ctx, 'a map', v);
      for (const [k, val] of Object.entries(v)) {
        s.keyCheck?.(k, [...path, k], ctx);
        if (val !== null && val !== undefined) walk(s.values, val, [...path, k], ctx);
      }
      break;
    case 'object':
      walkObject(s, v, path, ctx);
      break;
  }
  // Reached only when `v` has the schema's type; checks must tolerate malformed children (already reported).
  // A check that still throws is a bug in Weft: report it on the document instead of crashing the caller.
  if (s.check) {
    try {
      (s.check as Check<unknown>)(v, path, ctx);
    } catch (e) {
      ctx.error(path, 'WEFT-INTERNAL', `internal validation error (please report): ${(e as Error).message}`);
    }
  }
}

function walkObject(s: Of<'object'>, v: unknown, path: PathSeg[], ctx: Ctx): void {
  if (!isObj(v)) return typeError(path, ctx, 'a map', v);
  for (const [k, val] of Object.entries(v)) {
    const f = s.fields[k];
    if (f === undefined) {
      ctx.error([...path, k], 'WEFT-UNKNOWN-FIELD', `unknown field "${k}"${didYouMean(k, Object.keys(s.fields))}`, 'key');
      continue;
    }
    if (f.deprecated) ctx.warn([...path, k], 'WEFT-DEPRECATED', f.deprecated, 'key');
    if (val !== null && val !== undefined) walk(f, val, [...path, k], ctx);
  }
  for (const r of s.required ?? []) {
    if (v[r] === undefined || v[r] === null) ctx.error([...path, r], 'WEFT-REQUIRED', `missing required field "${r}"`, 'value', path);
  }
  if (s.oneOf) {
    const set = s.oneOf.filter((k) => v[k] !== undefined && v[k] !== null);
    if (set.length !== 1) {
      ctx.error(path, 'WEFT-ONEOF', set.length === 0
        ? `must set exactly one of ${s.oneOf.join(', ')}`
        : `must set exactly one of ${s.oneOf.join(', ')}, not ${set.join(' and ')}`);
    }
  }
}
