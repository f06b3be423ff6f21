// The config API client the CLI uses. Kinds may be named as `weft get` accepts them (VirtualService,
// virtualservices, vs). Failures are typed: ApiUnreachableError (nothing answers: the CLI exits 3 and
// suggests `weft up`) and ApiStatusError (the server answered with a Kubernetes Status).
import { apiVersionOf, lookupKind, type KindInfo, type Resource } from '../model/index.js';
import { APPLY_PATH, type ApplyResponse, type ResourceList, type Status, type StatusReason } from './types.js';

export class ApiUnreachableError extends Error {
  constructor(readonly baseUrl: string, readonly causeCode: string, message: string) {
    super(message);
    this.name = 'ApiUnreachableError';
  }
}

export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: StatusReason;
  constructor(readonly status: Status) {
    const causes = status.details?.causes ?? [];
    const extra = causes.length > 1 || (causes.length === 1 && !status.message.includes(causes[0].message))
      ? `\n${causes.map((c) => `  - ${c.field ? `${c.field}: ` : ''}${c.message}`).join('\n')}` : '';
    super(`${status.message}${extra}`);
    this.name = 'ApiStatusError';
    this.code = status.code;
    this.reason = status.reason;
  }
}

export interface ApiClientOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

export interface ListOptions {
  namespace?: string;
  /** List across all namespaces (always the case for cluster-scoped kinds). */
  allNamespaces?: boolean;
}

export class ApiClient {
  readonly baseUrl: string;
  constructor(baseUrl: string, private readonly opts: ApiClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async get(kind: string, namespace: string | undefined, name: string): Promise<Resource> {
    return this.request<Resource>('GET', objectPath(kindInfo(kind), namespace, name));
  }

  /** The objects of one kind, sorted by namespace and name. */
  async list(kind: string, opts: ListOptions = {}): Promise<Resource[]> {
    return (await this.listWithVersion(kind, opts)).items;
  }

  /** The whole `<Kind>List`, with the store revision in metadata.resourceVersion. */
  async listWithVersion(kind: string, opts: ListOptions = {}): Promise<ResourceList> {
    const info = kindInfo(kind);
    const ns = opts.allNamespaces || !info.namespaced ? undefined : opts.namespace ?? 'default';
    return this.request<ResourceList>('GET', collectionPath(info, ns));
  }

  /** Validates all items, then creates/updates (or deletes) them in one atomic batch; 422 changes nothing. */
  async apply(items: readonly Resource[], opts: { dryRun?: boolean; delete?: boolean } = {}): Promise<ApplyResponse> {
    return this.request<ApplyResponse>('POST', APPLY_PATH, { items, dryRun: opts.dryRun ?? false, delete: opts.delete ?? false });
  }

  /** 409 AlreadyExists if it exists. */
  async create(resource: Resource, opts: { dryRun?: boolean } = {}): Promise<Resource> {
    const info = kindInfo(resource.kind);
    return this.request<Resource>('POST', collectionPath(info, info.namespaced ? resource.metadata.namespace ?? 'default' : undefined) + dry(opts), resource);
  }

  /** Conditional on metadata.resourceVersion when set (409 Conflict if it moved); 404 if absent. */
  async replace(resource: Resource, opts: { dryRun?: boolean } = {}): Promise<Resource> {
    const info = kindInfo(resource.kind);
    return this.request<Resource>('PUT', objectPath(info, resource.metadata.namespace, resource.metadata.name) + dry(opts), resource);
  }

  /** Returns the deleted object; 404 if absent. */
  async delete(kind: string, namespace: string | undefined, name: string, opts: { dryRun?: boolean } = {}): Promise<Resource> {
    return this.request<Resource>('DELETE', objectPath(kindInfo(kind), namespace, name) + dry(opts));
  }

  /** Liveness and readiness; throws ApiUnreachableError when nothing answers. */
  async health(): Promise<{ healthy: boolean; ready: boolean }> {
    const [h, r] = await Promise.all([this.fetchRaw('GET', '/healthz'), this.fetchRaw('GET', '/readyz')]);
    await Promise.all([h.text(), r.text()]);
    return { healthy: h.ok, ready: r.ok };
  }

  /** Any JSON endpoint (weftd's own routes); non-2xx answers throw ApiStatusError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetchRaw(method, path, body);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const s = parsed as Partial<Status> | undefined;
      if (s?.kind === 'Status' && typeof s.message === 'string') throw new ApiStatusError(s as Status);
      throw new ApiStatusError({
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: res.status, reason: reasonFor(res.status),
        message: `${method} ${path}: HTTP ${res.status}${text ? `: ${text.slice(0, 500).trim()}` : ''}`, details: {},
      });
    }
    if (parsed === undefined && text) throw new Error(`${method} ${path}: the server answered with something that is not JSON: ${text.slice(0, 200)}`);
    return parsed as T;
  }

  private async fetchRaw(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    try {
      return await fetch(this.baseUrl + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const code = err.name === 'TimeoutError' ? 'ETIMEDOUT' : err.cause?.code ?? err.name;
      const detail = err.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs ?? 30_000} ms` : err.cause?.message ?? err.message;
      // The message is only the cause (`connect ECONNREFUSED 127.0.0.1:15014`): callers add "cannot reach weftd at URL".
      throw new ApiUnreachableError(this.baseUrl, code, detail);
    }
  }
}

function kindInfo(kind: string): KindInfo {
  const info = lookupKind(kind);
  if (!info) throw new Error(`unknown kind "${kind}"`);
  return info;
}

function prefix(info: KindInfo): string {
  return info.group ? `/apis/${apiVersionOf(info)}` : `/api/${info.storageVersion}`;
}

function collectionPath(info: KindInfo, namespace: string | undefined): string {
  return namespace === undefined || !info.namespaced
    ? `${prefix(info)}/${info.plural}`
    : `${prefix(info)}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`;
}

function objectPath(info: KindInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(info, info.namespaced ? namespace ?? 'default' : undefined)}/${encodeURIComponent(name)}`;
}

const dry = (opts: { dryRun?: boolean }): string => (opts.dryRun ? '?dryRun=All' : '');

function reasonFor(code: number): StatusReason {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 409: return 'Conflict';
    case 413: return 'RequestEntityTooLarge';
    case 422: return 'Invalid';
    case 503: return 'ServiceUnavailable';
    default: return 'InternalError';
  }
}
