// The protobufjs Root of the Envoy types, filled from the generated descriptor on demand: a type
// (with the types it is nested in and everything its fields reach) is added when first looked up,
// and each of its codecs is generated when first called. Building all ~420 types took ~30 ms of
// every sidecar's start, before its first xDS request could even be encoded; a sidecar uses about
// two thirds of them, and its first request needs about ten.
import protobuf from 'protobufjs';
import type { EnvoyDescriptor } from './proto-descriptor.js';

/** A Root and how to fill it: `ensure` loads a type and what it needs (no-op when loaded or unknown). */
export interface LazyRoot {
  root: protobuf.Root;
  ensure(fullName: string): void;
  ensureAll(): void;
}

/** protobufjs' default edition of a Root: what features (packed, presence) resolve against, as resolveAll would. */
const EDITION = 'proto2';

interface Entry { pkg: string; name: string; json: protobuf.AnyNestedObject }

/** A message, enum or service in protobufjs JSON (what Namespace.addJSON tells apart), as opposed to a bare namespace. */
function isDefinition(json: Record<string, unknown>): boolean {
  return json.fields !== undefined || json.values !== undefined || json.methods !== undefined || json.id !== undefined;
}

export function lazyRootFromDescriptor(d: EnvoyDescriptor): LazyRoot {
  const root = new protobuf.Root();
  root._resolveFeaturesRecursive(EDITION);
  const entries = new Map<string, Entry>();
  const index = (nested: Record<string, unknown>, pkg: string): void => {
    for (const [name, json] of Object.entries(nested)) {
      const j = json as Record<string, unknown>;
      const full = pkg ? `${pkg}.${name}` : name;
      if (isDefinition(j)) entries.set(full, { pkg, name, json: j });
      else index((j.nested ?? {}) as Record<string, unknown>, full);
    }
  };
  index((d.nested ?? {}), '');
  const loaded = new Set<string>();

  const namespaceOf = (pkg: string): protobuf.Namespace => {
    let ns: protobuf.Namespace = root;
    for (const part of pkg.split('.')) {
      let next = ns.get(part) as protobuf.Namespace | null;
      if (!next) {
        next = new protobuf.Namespace(part);
        ns.add(next);
        next._resolveFeatures(EDITION);
      }
      ns = next;
    }
    return ns;
  };

  const ensure = (fullName: string): void => {
    let name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
    // A nested type comes with the top-level message it is nested in.
    while (!entries.has(name)) {
      const i = name.lastIndexOf('.');
      if (i < 0) return;
      name = name.slice(0, i);
    }
    if (loaded.has(name)) return;
    // Every dependency before any field resolves: a relative type name then finds what the full Root would.
    const batch: Entry[] = [];
    const stack = [name];
    while (stack.length > 0) {
      const n = stack.pop()!;
      const e = entries.get(n);
      if (!e || loaded.has(n)) continue;
      loaded.add(n);
      batch.push(e);
      stack.push(...(d.deps[n] ?? []));
    }
    for (const e of batch) {
      const ns = e.pkg ? namespaceOf(e.pkg) : root;
      ns.addJSON({ [e.name]: e.json });
      const o = ns.get(e.name)!;
      o._resolveFeaturesRecursive(EDITION);
      if (o instanceof protobuf.Type) {
        lazyCodecs(o, ensure);
        forEachType(o, (t) => lazyCodecs(t, ensure));
      }
    }
  };
  return { root, ensure, ensureAll: () => { for (const n of entries.keys()) ensure(n); } };
}

function forEachType(ns: protobuf.NamespaceBase, fn: (t: protobuf.Type) => void): void {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) fn(o);
    if (o instanceof protobuf.Namespace) forEachType(o, fn);
  }
}

type Codec = 'encode' | 'decode' | 'verify' | 'fromObject' | 'toObject';
type CodecFn = (...args: unknown[]) => unknown;

/**
 * protobufjs' Type.setup generates all five codecs of a type (encode, decode, verify, fromObject,
 * toObject) the first time any one is used; a sidecar only decodes and converts most types, so
 * the other three were ~60% of the code generation at start. Here each is generated when first
 * called, with the same generators and the same wrappers (google.protobuf.Any).
 */
function lazyCodecs(t: protobuf.Type, ensure: (fullName: string) => void): void {
  const self = t as unknown as Record<Codec, CodecFn>;
  let types: (protobuf.Type | protobuf.Enum | null)[] | undefined;
  const resolved = (): (protobuf.Type | protobuf.Enum | null)[] => {
    types ??= t.fieldsArray.map((f) => f.resolve().resolvedType);
    return types;
  };
  const make: Record<Codec, () => CodecFn> = {
    encode: () => protobuf.encoder(t)({ Writer: protobuf.Writer, types: resolved(), util: protobuf.util }) as CodecFn,
    decode: () => protobuf.decoder(t)({ Reader: protobuf.Reader, types: resolved(), util: protobuf.util }) as CodecFn,
    verify: () => protobuf.verifier(t)({ types: resolved(), util: protobuf.util }) as CodecFn,
    fromObject: () => wrapped(t, 'fromObject', protobuf.converter.fromObject(t)({ types: resolved(), util: protobuf.util }) as CodecFn, ensure),
    toObject: () => wrapped(t, 'toObject', protobuf.converter.toObject(t)({ types: resolved(), util: protobuf.util }) as CodecFn, ensure),
  };
  // Type.prototype's stubs call this.setup() and then the method: install one stub per codec instead.
  // (protobufjs deletes encode/decode/verify when fields are added; the prototype stubs then land here again.)
  (t as unknown as { setup(): protobuf.Type }).setup = function setup(this: protobuf.Type) {
    for (const k of Object.keys(make) as Codec[]) {
      if (Object.prototype.hasOwnProperty.call(self, k)) continue;
      self[k] = function (this: unknown, ...args: unknown[]) {
        const fn = make[k]();
        self[k] = fn;
        return fn.apply(this, args);
      };
    }
    return this;
  };
}

/**
 * As Type.setup does: a wrapper of google.protobuf.* calls the generated converter through an
 * object whose method it is. The Any wrapper looks up the packed type (by its type URL, or the
 * '@type' of the object): loaded here first.
 */
function wrapped(t: protobuf.Type, k: 'fromObject' | 'toObject', generated: CodecFn, ensure: (fullName: string) => void): CodecFn {
  const wrapper = (protobuf.wrappers as Record<string, protobuf.IWrapper | undefined>)[t.fullName];
  if (!wrapper) return generated;
  const originalThis = Object.create(t) as Record<string, unknown>;
  originalThis[k] = generated;
  const convert = wrapper[k] as CodecFn;
  const urlKey = k === 'toObject' ? 'type_url' : '@type';
  return (value: unknown, ...rest: unknown[]) => {
    const url = (value as Record<string, unknown> | null | undefined)?.[urlKey];
    if (typeof url === 'string' && url) ensure(url.slice(url.lastIndexOf('/') + 1));
    return convert.call(originalThis, value, ...rest);
  };
}
