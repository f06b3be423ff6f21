// VirtualService delegation (one level, as Istio): a root http route with `delegate` is replaced by
// the delegate VirtualService's http routes, each match AND-ed with the root's. Destinations of the
// delegate resolve relative to the delegate's namespace.
import type { HTTPMatchRequest, HTTPRoute, Resource, VirtualServiceSpec } from '../model/index.js';
import { isExportedTo, resourcesOfKind, type Registry } from '../registry/index.js';

export interface FlatHttpRoute { http: HTTPRoute; namespace: string }

function mergeMatch(root: HTTPMatchRequest | undefined, child: HTTPMatchRequest | undefined): HTTPMatchRequest | undefined {
  if (!root) return child;
  if (!child) return root;
  const defined = Object.fromEntries(Object.entries(child).filter(([, v]) => v !== undefined)) as HTTPMatchRequest;
  const merged: HTTPMatchRequest = { ...root, ...defined };
  for (const k of ['headers', 'withoutHeaders', 'queryParams', 'sourceLabels'] as const) {
    if (root[k] || child[k]) (merged as Record<string, unknown>)[k] = { ...root[k], ...child[k] };
  }
  return merged;
}

function findDelegate(registry: Registry, root: Resource<VirtualServiceSpec>, ref: { name?: string; namespace?: string }): Resource<VirtualServiceSpec> | undefined {
  const rootNs = root.metadata.namespace ?? 'default';
  const ns = ref.namespace ?? rootNs;
  return resourcesOfKind<VirtualServiceSpec>(registry.snapshot, 'VirtualService').find((vs) =>
    vs.metadata.name === ref.name && vs.metadata.namespace === ns && (vs.spec.hosts ?? []).length === 0
    && isExportedTo(vs.spec.exportTo, ns, rootNs));
}

/** The http routes of a VirtualService with delegates expanded (a missing delegate drops its route). */
export function flattenHttpRoutes(registry: Registry, vs: Resource<VirtualServiceSpec>): FlatHttpRoute[] {
  const ns = vs.metadata.namespace ?? 'default';
  const out: FlatHttpRoute[] = [];
  for (const http of vs.spec.http ?? []) {
    if (!http.delegate) {
      out.push({ http, namespace: ns });
      continue;
    }
    const child = findDelegate(registry, vs, http.delegate);
    if (!child) continue;
    const childNs = child.metadata.namespace ?? 'default';
    const rootBlocks = http.match && http.match.length > 0 ? http.match : [undefined];
    for (const ch of child.spec.http ?? []) {
      if (ch.delegate) continue; // one level only
      const childBlocks = ch.match && ch.match.length > 0 ? ch.match : [undefined];
      const match = rootBlocks.flatMap((r) => childBlocks.map((c) => mergeMatch(r, c))).filter((m): m is HTTPMatchRequest => !!m);
      out.push({ http: { ...ch, match: match.length > 0 ? match : undefined }, namespace: childNs });
    }
  }
  return out;
}
