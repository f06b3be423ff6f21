// Kubernetes-style REST over the store: list/get/create/replace/delete for every kind in
// src/model/kinds.ts, under /api/v1 (core) and /apis/<group>/<version> (Istio groups).
import { KINDS, apiVersionOf, type KindInfo, type Resource } from '../model/index.js';
import { StoreConflictError, type ConfigStore } from '../store/types.js';
import { checkObject, mapStoreError, normalizeObject, apiVersionAccepted, type Validate } from './objects.js';
import { reply, type RouteContext, type Router } from './router.js';
import { apiError, badRequest, causeOf, conflict, describeDiagnostic, invalid, notFound, alreadyExists } from './status.js';
import type { ResourceList } from './types.js';

export interface ResourceRouteDeps {
  store: ConfigStore;
  validate: Validate;
}

interface Scope {
  info: KindInfo;
  /** apiVersion named by the URL, e.g. `networking.istio.io/v1beta1` or `v1`. */
  apiVersion: string;
  /** Namespace from the URL; undefined for cluster-level paths. */
  namespace?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const RETRIES = 5;
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function scopeOf(params: Record<string, string>, group: string): Scope {
  const { version, plural, ns } = params;
  const info = KINDS.find((k) => k.group === group && k.plural === plural);
  if (!info || !info.versions.includes(version)) {
    throw apiError(404, 'NotFound', `the server could not find the requested resource (${group ? `/apis/${group}/${version}` : `/api/${version}`}/${plural})`, { kind: plural, group });
  }
  if (ns !== undefined && !info.namespaced) throw apiError(404, 'NotFound', `${info.kind} is cluster-scoped: use the path without namespaces/${ns}`, { kind: plural, group });
  return { info, apiVersion: apiVersionOf(info, version), namespace: ns };
}

const subject = (info: KindInfo): string => (info.group ? `${info.kind}.${info.group}` : info.kind);
const isDryRun = (ctx: RouteContext): boolean => ctx.query.getAll('dryRun').includes('All');

export function registerResourceRoutes(router: Router, deps: ResourceRouteDeps): void {
  const { store } = deps;
  const bases: { prefix: string; group: (p: Record<string, string>) => string }[] = [
    { prefix: '/api/:version', group: () => '' },
    { prefix: '/apis/:group/:version', group: (p) => p.group },
  ];
  for (const { prefix, group } of bases) {
    const at = (ctx: RouteContext): Scope => scopeOf(ctx.params, group(ctx.params));
    router.add('GET', `${prefix}/:plural`, (ctx) => list(at(ctx)));
    router.add('POST', `${prefix}/:plural`, (ctx) => create(ctx, clusterOnly(at(ctx), 'POST')));
    router.add('GET', `${prefix}/:plural/:name`, (ctx) => get(clusterOnly(at(ctx), 'GET'), ctx.params.name));
    router.add('PUT', `${prefix}/:plural/:name`, (ctx) => replace(ctx, clusterOnly(at(ctx), 'PUT')));
    router.add('DELETE', `${prefix}/:plural/:name`, (ctx) => remove(ctx, clusterOnly(at(ctx), 'DELETE')));
    router.add('GET', `${prefix}/namespaces/:ns/:plural`, (ctx) => list(at(ctx)));
    router.add('POST', `${prefix}/namespaces/:ns/:plural`, (ctx) => create(ctx, at(ctx)));
    router.add('GET', `${prefix}/namespaces/:ns/:plural/:name`, (ctx) => get(at(ctx), ctx.params.name));
    router.add('PUT', `${prefix}/namespaces/:ns/:plural/:name`, (ctx) => replace(ctx, at(ctx)));
    router.add('DELETE', `${prefix}/namespaces/:ns/:plural/:name`, (ctx) => remove(ctx, at(ctx)));
  }

  /** Namespaced kinds at a cluster-level path can only be listed (across namespaces). */
  function clusterOnly(scope: Scope, method: string): Scope {
    if (scope.info.namespaced) {
      throw apiError(405, 'MethodNotAllowed', `${method} of namespaced ${scope.info.kind} needs a namespace: use .../namespaces/<namespace>/${scope.info.plural}`, { kind: scope.info.plural, group: scope.info.group });
    }
    return scope;
  }

  async function list(scope: Scope): Promise<ResourceList> {
    const revision = store.revision();
    const items = await store.list({ kind: scope.info.kind, ...(scope.namespace !== undefined ? { namespace: scope.namespace } : {}) });
    return { apiVersion: scope.apiVersion, kind: `${scope.info.kind}List`, metadata: { resourceVersion: revision }, items };
  }

  async function get(scope: Scope, name: string): Promise<Resource> {
    const r = await store.get({ kind: scope.info.kind, namespace: scope.namespace ?? '', name });
    if (!r) throw notFound(scope.info.plural, scope.info.group, name);
    return r;
  }

  /** Checks the body against the URL, fills what the URL implies, validates; 400 for mismatches, 422 for invalid. */
  async function objectFromBody(ctx: RouteContext, scope: Scope, urlName?: string): Promise<Resource> {
    const body = await ctx.body();
    const { info } = scope;
    if (!isObject(body)) throw badRequest(`request body must be a ${info.kind} object`);
    if (body.kind !== undefined && body.kind !== info.kind) throw badRequest(`the kind "${show(body.kind)}" in the body does not match the URL (${info.kind})`);
    if (body.apiVersion !== undefined && (typeof body.apiVersion !== 'string' || !apiVersionAccepted(info, body.apiVersion))) {
      throw badRequest(`apiVersion "${show(body.apiVersion)}" in the body is not accepted for ${info.kind} (the URL names ${scope.apiVersion})`);
    }
    const meta = isObject(body.metadata) ? { ...body.metadata } : body.metadata === undefined ? {} : body.metadata;
    if (isObject(meta)) {
      if (info.namespaced) {
        if (meta.namespace === undefined || meta.namespace === '') meta.namespace = scope.namespace;
        else if (meta.namespace !== scope.namespace) throw badRequest(`the namespace of the provided object (${show(meta.namespace)}) does not match the namespace sent on the request (${scope.namespace})`);
      } else {
        delete meta.namespace;
      }
      if (urlName !== undefined) {
        if (meta.name === undefined) meta.name = urlName;
        else if (meta.name !== urlName) throw badRequest(`the name of the object (${show(meta.name)}) does not match the name on the URL (${urlName})`);
      }
    }
    const obj = { ...body, apiVersion: body.apiVersion ?? scope.apiVersion, kind: info.kind, metadata: meta };
    const ds = checkObject(deps.validate, obj);
    const errors = ds.filter((d) => d.severity === 'error');
    const name = isObject(meta) && typeof meta.name === 'string' ? meta.name : '';
    if (errors.length) throw invalid(subject(info), name, info.group, info.plural, errors, errors.map((d) => causeOf(d)));
    for (const w of ds.filter((d) => d.severity === 'warning')) ctx.warn(describeDiagnostic(w));
    return normalizeObject(obj as unknown as Resource);
  }

  async function create(ctx: RouteContext, scope: Scope) {
    const obj = await objectFromBody(ctx, scope);
    if (isDryRun(ctx)) {
      if (await store.get({ kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name })) {
        throw alreadyExists(scope.info.plural, scope.info.group, obj.metadata.name);
      }
      return reply(201, obj);
    }
    try {
      const [stored] = await store.apply([{ op: 'put', resource: obj, mustCreate: true }]);
      return reply(201, stored);
    } catch (e) {
      return mapStoreError(e, scope.info, obj.metadata.name);
    }
  }

  async function replace(ctx: RouteContext, scope: Scope): Promise<Resource> {
    const name = ctx.params.name;
    const obj = await objectFromBody(ctx, scope, name);
    const expected = obj.metadata.resourceVersion;
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const current = await get(scope, name);
      if (expected !== undefined && expected !== current.metadata.resourceVersion) throw conflict(scope.info.plural, scope.info.group, name);
      if (isDryRun(ctx)) return obj;
      try {
        // Unconditional replace still guards against a write between the read and this put, then retries.
        const [stored] = await store.apply([{ op: 'put', resource: obj, expectResourceVersion: current.metadata.resourceVersion }]);
        return stored;
      } catch (e) {
        if (!(e instanceof StoreConflictError) || expected !== undefined) mapStoreError(e, scope.info, name);
      }
    }
    throw conflict(scope.info.plural, scope.info.group, name);
  }

  async function remove(ctx: RouteContext, scope: Scope): Promise<Resource> {
    const name = ctx.params.name;
    const current = await get(scope, name);
    if (isDryRun(ctx)) return current;
    try {
      const [gone] = await store.apply([{ op: 'delete', key: { kind: scope.info.kind, namespace: scope.namespace ?? '', name } }]);
      return gone;
    } catch (e) {
      return mapStoreError(e, scope.info, name);
    }
  }
}
