// request/response_headers_to_add and _to_remove, flattened per route at config time. Values with
// Envoy's %COMMAND% formatters are compiled here once per push into segment lists (see format.ts).
import { ConfigError, type Obj, arr, bool, obj, str } from '../wire.js';
import { type Formatter, type HeaderFormatContext, compileHeaderValue } from './format.js';

export type { HeaderFormatContext } from './format.js';

export type Headers = Record<string, string | string[] | undefined>;
type Action = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
const ACTIONS = new Set(['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS']);

export interface HeaderOp {
  readonly remove: boolean;
  readonly name: string;
  readonly value: string;
  readonly action: Action;
  /** The value's formatters; null when it is a plain string. */
  readonly format: Formatter | null;
  /** keep_empty_value: a formatted value that comes out empty is still added. */
  readonly keepEmpty: boolean;
}

/** Request headers -> the stream they belong to, for formatters applied where no context is passed. */
const contexts = new WeakMap<Headers, HeaderFormatContext>();

/** Lets applyHeaderOps(h, ops) find the request's context for formatted values. */
export function bindHeaderContext(h: Headers, ctx: HeaderFormatContext): void {
  contexts.set(h, ctx);
}

/** Whether any op has a formatted value (the route's request headers then need a bound context). */
export function hasFormattedOps(ops: readonly HeaderOp[]): boolean {
  return ops.some((o) => o.format !== null);
}

/** Ops of one level (route config, virtual host, route, weighted cluster): removals, then additions. */
export function compileHeaderOps(level: Obj, addField: string, removeField: string, path: string): HeaderOp[] {
  const ops: HeaderOp[] = [];
  for (const [i, n] of arr(level[removeField], `${path}.${removeField}`).entries()) {
    ops.push({ remove: true, name: str(n, `${path}.${removeField}[${i}]`).toLowerCase(), value: '', action: 'OVERWRITE_IF_EXISTS', format: null, keepEmpty: false });
  }
  for (const [i, a] of arr(level[addField], `${path}.${addField}`).entries()) {
    const p = `${path}.${addField}[${i}]`;
    const hv = obj(a, p);
    const header = obj(hv.header, `${p}.header`);
    const name = str(header.key, `${p}.header.key`).toLowerCase();
    if (!name) throw new ConfigError(`${p}.header.key`, 'missing');
    let action = str(hv.append_action, `${p}.append_action`, 'APPEND_IF_EXISTS_OR_ADD') as Action;
    if (!ACTIONS.has(action)) throw new ConfigError(`${p}.append_action`, `unknown action ${action}`);
    if (hv.append !== undefined && !bool(hv.append, `${p}.append`, true)) action = 'OVERWRITE_IF_EXISTS_OR_ADD';
    // raw_value (bytes) is Envoy's newer alternative to value.
    const rawValue = header.raw_value instanceof Uint8Array ? Buffer.from(header.raw_value).toString('latin1') : typeof header.raw_value === 'string' ? Buffer.from(header.raw_value, 'base64').toString('latin1') : undefined;
    const { value, format } = compileHeaderValue(rawValue ?? str(header.value, `${p}.header.value`), rawValue !== undefined ? `${p}.header.raw_value` : `${p}.header.value`);
    ops.push({ remove: false, name, value, action, format, keepEmpty: bool(hv.keep_empty_value, `${p}.keep_empty_value`, false) });
  }
  return ops;
}

/**
 * Applies ops to `h`. Formatted values read `ctx` (for request headers, the context bound to `h` when
 * none is passed); like Envoy, a formatted value that comes out empty is not added unless keep_empty_value.
 */
export function applyHeaderOps(h: Headers, ops: readonly HeaderOp[], ctx?: HeaderFormatContext): void {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    const cur = h[op.name];
    if (op.remove) {
      if (cur !== undefined) delete h[op.name];
      continue;
    }
    let value = op.value;
    if (op.format !== null) {
      const c = ctx ?? contexts.get(h);
      value = c ? op.format(c, h) : '';
      if (value === '' && !op.keepEmpty) continue;
    }
    switch (op.action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        h[op.name] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
        break;
      case 'ADD_IF_ABSENT':
        if (cur === undefined) h[op.name] = value;
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        h[op.name] = value;
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (cur !== undefined) h[op.name] = value;
        break;
    }
  }
}
