// request/response_headers_to_add and _to_remove, flattened per route at config time.
import { ConfigError, type Obj, arr, bool, obj, str } from '../wire.js';

export type Headers = Record<string, string | string[] | undefined>;
type Action = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
const ACTIONS = new Set(['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS']);

export interface HeaderOp {
  readonly remove: boolean;
  readonly name: string;
  readonly value: string;
  readonly action: Action;
}

/** Ops of one level (route config, virtual host, route, weighted cluster): removals, then additions. */
export function compileHeaderOps(level: Obj, addField: string, removeField: string, path: string): HeaderOp[] {
  const ops: HeaderOp[] = [];
  for (const [i, n] of arr(level[removeField], `${path}.${removeField}`).entries()) {
    ops.push({ remove: true, name: str(n, `${path}.${removeField}[${i}]`).toLowerCase(), value: '', action: 'OVERWRITE_IF_EXISTS' });
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
    ops.push({ remove: false, name, value: rawValue ?? str(header.value, `${p}.header.value`), action });
  }
  return ops;
}

export function applyHeaderOps(h: Headers, ops: readonly HeaderOp[]): void {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    const cur = h[op.name];
    if (op.remove) {
      if (cur !== undefined) delete h[op.name];
      continue;
    }
    switch (op.action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        h[op.name] = cur === undefined ? op.value : Array.isArray(cur) ? [...cur, op.value] : [cur, op.value];
        break;
      case 'ADD_IF_ABSENT':
        if (cur === undefined) h[op.name] = op.value;
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        h[op.name] = op.value;
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (cur !== undefined) h[op.name] = op.value;
        break;
    }
  }
}
