// Checks one document's envelope (apiVersion, kind, metadata) and dispatches its spec to the kind's schema.
// Works on plain values and reports issues by field path; the caller maps paths to file positions.

import { KINDS, WORKLOAD_KINDS, kindByName, type Resource } from '../model/index.js';
import { didYouMean } from './didyoumean.js';
import { annotations, dnsLabel, dnsName, labels } from './schema/checks.js';
import { coreService, namespace as namespaceSchema } from './schema/core.js';
import { Ctx, type Issue, type Obj, type Schema, any, int, isObj, obj, str, strList, walk, describe } from './schema/dsl.js';
import { destinationRule, envoyFilter, gateway, serviceEntry, sidecar, workloadEntry, workloadGroup } from './schema/networking.js';
import { authorizationPolicy, peerAuthentication, requestAuthentication } from './schema/security.js';
import { telemetry } from './schema/telemetry.js';
import { SECRET_TOP_LEVEL, checkSecret } from './schema/secret.js';
import { virtualService } from './schema/virtualservice.js';

const SPEC_SCHEMAS: Readonly<Record<string, Schema>> = {
  VirtualService: virtualService, DestinationRule: destinationRule, Gateway: gateway, ServiceEntry: serviceEntry,
  WorkloadEntry: workloadEntry, WorkloadGroup: workloadGroup, Sidecar: sidecar, EnvoyFilter: envoyFilter,
  PeerAuthentication: peerAuthentication, RequestAuthentication: requestAuthentication, AuthorizationPolicy: authorizationPolicy,
  Telemetry: telemetry, Service: coreService, Namespace: namespaceSchema,
};

const metadataSchema = (nameCheck: typeof dnsName): Schema => obj({
  name: str({ check: nameCheck }), namespace: str({ check: dnsLabel }), labels: labels(), annotations: annotations(),
  resourceVersion: str(), generation: int(0), creationTimestamp: str(), uid: str(), generateName: str(),
  ownerReferences: any(), finalizers: strList(), managedFields: any(), deletionTimestamp: str(), deletionGracePeriodSeconds: int(0),
  selfLink: str(),
});
const TOP_LEVEL = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

/** Service names are DNS-1035 labels (start with a letter), like Kubernetes requires. */
const serviceName: typeof dnsName = (v, path, ctx) => {
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(v) || v.length > 63) {
    ctx.error(path, 'WEFT-NAME', `invalid Service name "${v}": must be a DNS-1035 label (lowercase letters, digits and '-', start with a letter, at most 63 characters)`);
  }
};

export interface Identity { kind?: string; namespace?: string; name?: string }
export interface CheckedDocument {
  /** Set when the document is an accepted kind and has no errors. */
  resource?: Resource;
  issues: Issue[];
  identity: Identity;
}

export function checkDocument(doc: unknown, defaultNamespace: string): CheckedDocument {
  const ctx = new Ctx();
  const identity: Identity = {};
  if (!isObj(doc)) {
    ctx.error([], 'WEFT-NOT-OBJECT', `document is ${describe(doc)}, expected an object with apiVersion, kind, metadata and spec`);
    return { issues: ctx.issues, identity };
  }
  const { apiVersion, kind } = doc;
  const meta = isObj(doc.metadata) ? doc.metadata : undefined;
  if (typeof kind === 'string') identity.kind = kind;
  if (typeof meta?.name === 'string') identity.name = meta.name;
  const info = typeof kind === 'string' ? kindByName(kind) : undefined;
  if (info?.namespaced !== false) identity.namespace = typeof meta?.namespace === 'string' ? meta.namespace : defaultNamespace;

  if (kind === undefined || kind === null) ctx.error(['kind'], 'WEFT-REQUIRED', 'missing required field "kind"', 'value', []);
  else if (typeof kind !== 'string') ctx.error(['kind'], 'WEFT-TYPE', `expected a string, got ${describe(kind)}`);
  if (apiVersion === undefined || apiVersion === null) ctx.error(['apiVersion'], 'WEFT-REQUIRED', 'missing required field "apiVersion"', 'value', []);
  else if (typeof apiVersion !== 'string') ctx.error(['apiVersion'], 'WEFT-TYPE', `expected a string, got ${describe(apiVersion)}`);
  if (ctx.errorCount() > 0) return { issues: ctx.issues, identity };

  const k = kind as string;
  const av = apiVersion as string;
  if (WORKLOAD_KINDS.includes(k)) {
    ctx.error(['kind'], 'WEFT-WORKLOAD-KIND', workloadMessage(k, doc));
    return { issues: ctx.issues, identity };
  }
  if (k === 'ServiceAccount' && (av === 'v1')) {
    ctx.warn(['kind'], 'WEFT-SERVICEACCOUNT', 'ServiceAccount ignored: Weft derives service accounts from `weft run --service-account NAME`');
    return { issues: ctx.issues, identity };
  }
  if (!info) {
    const hint = av.startsWith('gateway.networking.k8s.io/')
      ? ' (the Kubernetes Gateway API is not supported; use networking.istio.io Gateway and VirtualService)'
      : didYouMean(k, KINDS.map((x) => x.kind));
    ctx.error(['kind'], 'WEFT-UNKNOWN-KIND', `unsupported kind "${k}" (${av})${hint}; Weft accepts ${KINDS.map((x) => x.kind).join(', ')}`);
    return { issues: ctx.issues, identity };
  }
  const slash = av.lastIndexOf('/');
  const group = slash >= 0 ? av.slice(0, slash) : '';
  const version = av.slice(slash + 1);
  if (group !== info.group) {
    const want = info.group ? `${info.group}/${info.storageVersion}` : info.storageVersion;
    ctx.error(['apiVersion'], 'WEFT-API-VERSION', `${k} is not in API group "${group || 'core'}" (apiVersion "${av}"); use apiVersion: ${want}`);
  } else if (!info.versions.includes(version)) {
    ctx.error(['apiVersion'], 'WEFT-API-VERSION', `${k} is not served as version "${version}"; use one of ${info.versions.map((v) => (group ? `${group}/${v}` : v)).join(', ')}`);
  }
  const topLevel = k === 'Secret' ? [...TOP_LEVEL, ...SECRET_TOP_LEVEL] : TOP_LEVEL;
  for (const key of Object.keys(doc)) {
    if (!topLevel.includes(key)) ctx.error([key], 'WEFT-UNKNOWN-FIELD', `unknown field "${key}"${didYouMean(key, topLevel)}`, 'key');
  }
  if (doc.metadata === undefined || doc.metadata === null) ctx.error(['metadata'], 'WEFT-REQUIRED', 'missing required field "metadata"', 'value', []);
  else {
    const nameCheck = k === 'Service' ? serviceName : k === 'Namespace' ? dnsLabel : dnsName;
    walk(metadataSchema(nameCheck), doc.metadata, ['metadata'], ctx);
    if (meta && (meta.name === undefined || meta.name === null)) {
      ctx.error(['metadata', 'name'], 'WEFT-REQUIRED', meta.generateName !== undefined
        ? 'metadata.generateName is not supported; set metadata.name' : 'missing required field "name"', 'value', ['metadata']);
    }
    if (!info.namespaced && meta?.namespace !== undefined) ctx.warn(['metadata', 'namespace'], 'WEFT-NAMESPACE', `${k} is cluster-scoped; metadata.namespace is ignored`, 'key');
  }
  let spec: unknown = doc.spec ?? {};
  if (k === 'Secret') spec = checkSecret(doc, ctx);
  else walk(SPEC_SCHEMAS[k], spec, ['spec'], ctx);
  if (ctx.errorCount() > 0) return { issues: ctx.issues, identity };

  const metadata = { ...(doc.metadata as Obj) } as unknown as Resource['metadata'];
  if (info.namespaced) metadata.namespace = identity.namespace;
  else delete metadata.namespace;
  return { resource: { apiVersion: av, kind: k, metadata, spec }, issues: ctx.issues, identity };
}

/** Points the user at `weft run` with the values this workload would need, taken from the manifest where present. */
function workloadMessage(kind: string, doc: Obj): string {
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  const spec = isObj(doc.spec) ? doc.spec : {};
  const tmpl = isObj(spec.jobTemplate) ? (isObj(spec.jobTemplate.spec) ? spec.jobTemplate.spec : {}) : spec;
  const podTmpl = kind === 'Pod' ? doc : isObj(tmpl.template) ? tmpl.template : {};
  const podMeta = isObj(podTmpl.metadata) ? podTmpl.metadata : {};
  const podSpec = isObj(podTmpl.spec) ? podTmpl.spec : {};
  const lbls = { ...(isObj(meta.labels) ? meta.labels : {}), ...(isObj(podMeta.labels) ? podMeta.labels : {}) };
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObj) : [];
  const ports = containers.flatMap((c) => (Array.isArray(c.ports) ? c.ports.filter(isObj) : []));
  const cport = ports.find((p) => typeof p.containerPort === 'number')?.containerPort;
  const service = typeof lbls.app === 'string' ? lbls.app : typeof meta.name === 'string' ? meta.name : 'NAME';
  const version = typeof lbls.version === 'string' ? lbls.version : 'V';
  const sa = typeof podSpec.serviceAccountName === 'string' ? ` --service-account ${podSpec.serviceAccountName}` : '';
  return `${kind} describes containers, which Weft does not run; run the workload as a process instead: `
    + `\`weft run --service ${service} --port ${typeof cport === 'number' ? cport : 'PORT'} --version ${version}${sa} -- COMMAND\``
    + ' (or run Weft on Kubernetes)';
}
