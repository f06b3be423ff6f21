// Builds the compact JSON descriptor of the Envoy types Weft uses (src/xds/envoy-descriptor.generated.ts)
// from the .proto files shipped in @grpc/grpc-js-xds (deps/). Parsing ~100 .proto files and resolving
// every type took about 0.45 s of each sidecar's start; the descriptor loads in a few ms.
// Regenerate after changing PROTO_FILES: `npm run gen:protos` (a test fails while it is stale).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** What envoy-descriptor.generated.ts holds: the PROTO_FILES it was built from and protobufjs JSON. */
export interface EnvoyDescriptor {
  protoFiles: string[];
  nested: protobuf.INamespace['nested'];
  /**
   * For every top-level message or enum (one directly in a package, nested types included), the
   * other top-level ones its fields reference: what must be loaded before its fields resolve, so a
   * process can load a type and its closure on first use (src/xds/protos.ts) instead of all of them.
   */
  deps: Record<string, string[]>;
}

function depsDir(): string {
  const pkg = require.resolve('@grpc/grpc-js-xds/package.json');
  return join(dirname(pkg), 'deps');
}

/** Parses the given .proto files (paths under the Envoy API tree) and their imports into a resolved Root. */
export function loadProtoFiles(files: readonly string[]): protobuf.Root {
  const deps = depsDir();
  const includes = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d));
  // descriptor.proto is not among protobufjs' built-in common types, but ships beside them.
  includes.push(dirname(dirname(dirname(require.resolve('protobufjs/google/protobuf/descriptor.proto')))));
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    // google/protobuf/* come from protobufjs' built-in definitions (protobuf.common).
    if (target.startsWith('google/protobuf/') && protobuf.common.get(target) !== null) return target;
    for (const inc of includes) {
      const p = join(inc, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

type Named = protobuf.Type | protobuf.Enum;

/** Every message and enum defined in `files`, plus every type their fields reach (transitively). */
function neededTypes(root: protobuf.Root, files: readonly string[]): Set<Named> {
  const inFiles = (o: protobuf.ReflectionObject): boolean => !!o.filename && files.some((f) => o.filename!.endsWith(`/${f}`));
  const stack: Named[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if ((o instanceof protobuf.Type || o instanceof protobuf.Enum) && inFiles(o)) stack.push(o);
      if (o instanceof protobuf.Namespace) walk(o);
    }
  };
  walk(root);
  const keep = new Set<Named>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (keep.has(t)) continue;
    keep.add(t);
    // A nested type lives inside its parent message: the parent must be there too.
    if (t.parent instanceof protobuf.Type) stack.push(t.parent);
    if (t instanceof protobuf.Type) {
      for (const f of t.fieldsArray) if (f.resolvedType) stack.push(f.resolvedType);
    }
  }
  return keep;
}

/** Options protobufjs itself acts on; the rest (validation rules, annotations, deprecation) only cost memory. */
const SEMANTIC_OPTIONS = new Set(['packed', 'default', 'proto3_optional', 'features', 'allow_alias', 'map_entry']);

function semanticOptions(options: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!options) return undefined;
  const kept = Object.entries(options).filter(([k]) => SEMANTIC_OPTIONS.has(k));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function enumJson(e: protobuf.Enum): Record<string, unknown> {
  const j = e.toJSON() as unknown as Record<string, unknown>;
  return withoutUndefined({ edition: j.edition, options: semanticOptions(e.options), values: j.values });
}

function typeJson(t: protobuf.Type, keep: Set<Named>): Record<string, unknown> {
  const j = t.toJSON() as unknown as { edition?: string; oneofs?: Record<string, { oneof: string[] }>; fields: Record<string, Record<string, unknown>>; group?: boolean };
  const fields = Object.fromEntries(Object.entries(j.fields).map(([name, f]) => [name, withoutUndefined({ ...f, options: semanticOptions(f.options as Record<string, unknown>) })]));
  const oneofs = j.oneofs && Object.fromEntries(Object.entries(j.oneofs).map(([name, o]) => [name, { oneof: o.oneof }]));
  return withoutUndefined({ edition: j.edition, options: semanticOptions(t.options), oneofs, fields, group: j.group, nested: nestedJson(t, keep) });
}

function nestedJson(ns: protobuf.NamespaceBase, keep: Set<Named>): Record<string, unknown> | undefined {
  const nested: Record<string, unknown> = {};
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) {
      if (keep.has(o)) nested[o.name] = typeJson(o, keep);
    } else if (o instanceof protobuf.Enum) {
      if (keep.has(o)) nested[o.name] = enumJson(o);
    } else if (o instanceof protobuf.Namespace && !(o instanceof protobuf.Service)) {
      const inner = nestedJson(o, keep);
      if (inner) nested[o.name] = { nested: inner };
    }
  }
  return Object.keys(nested).length > 0 ? nested : undefined;
}

/** The message or enum directly in a package that `o` is or is nested in. */
function topLevel(o: protobuf.ReflectionObject): protobuf.ReflectionObject {
  let t = o;
  while (t.parent instanceof protobuf.Type) t = t.parent;
  return t;
}

const nameOf = (o: protobuf.ReflectionObject): string => o.fullName.replace(/^\./, '');

function topLevelDeps(keep: Set<Named>): Record<string, string[]> {
  const deps = new Map<string, Set<string>>();
  for (const o of keep) {
    const top = topLevel(o);
    const mine = deps.get(nameOf(top)) ?? deps.set(nameOf(top), new Set()).get(nameOf(top))!;
    if (!(o instanceof protobuf.Type)) continue;
    for (const f of o.fieldsArray) {
      if (!f.resolvedType) continue;
      const dep = topLevel(f.resolvedType);
      if (dep !== top) mine.add(nameOf(dep));
    }
  }
  return Object.fromEntries([...deps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, [...v].sort()]));
}

/** The descriptor of exactly the types `files` define and need, without non-semantic options. */
export function buildEnvoyDescriptor(files: readonly string[]): EnvoyDescriptor {
  const root = loadProtoFiles(files);
  const keep = neededTypes(root, files);
  return { protoFiles: [...files], nested: nestedJson(root, keep) as EnvoyDescriptor['nested'], deps: topLevelDeps(keep) };
}

/** The text of envoy-descriptor.generated.ts for `files`. */
export function descriptorModuleText(files: readonly string[]): string {
  const json = JSON.stringify(buildEnvoyDescriptor(files));
  return '// Generated by `npm run gen:protos` (scripts/gen-envoy-descriptor.mjs) from PROTO_FILES in src/xds/protos.ts: do not edit.\n' +
    '// The Envoy types Weft uses as a protobufjs JSON descriptor (src/xds/proto-descriptor.ts), loaded at start instead of the .proto files.\n' +
    `export const ENVOY_DESCRIPTOR = '${json.replace(/\\/g, '\\\\').replace(/'/g, '\\\'')}';\n`;
}
