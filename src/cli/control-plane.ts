// How the CLI finds and talks to weftd.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, ApiStatusError, ApiUnreachableError } from '../api/client.js';
import { CliError, EXIT } from './errors.js';
import type { CliIO } from './io.js';

export const DEFAULT_CONTROL_PLANE = 'http://127.0.0.1:15014';

export function controlPlaneUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return (flag ?? env.WEFT_CONTROL_PLANE ?? DEFAULT_CONTROL_PLANE).replace(/\/+$/, '');
}

/** The admin credential lives in the data dir (mode 0600); the CLI reads it when it can. */
export function adminToken(env: NodeJS.ProcessEnv): string | undefined {
  if (env.WEFT_TOKEN) return env.WEFT_TOKEN;
  const dataDir = env.WEFT_DATA_DIR ?? join(env.HOME ?? '.', '.weft');
  const file = join(dataDir, 'admin-token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export function clientFor(flag: string | undefined, io: CliIO): ApiClient {
  return new ApiClient(controlPlaneUrl(flag, io.env), { token: adminToken(io.env) });
}

/** Maps API client failures to CLI errors with the documented exit codes. */
export async function withControlPlane<T>(url: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiUnreachableError) {
      throw new CliError(`cannot reach weftd at ${url}: ${e.message}. Is it running? Start it with \`weft up\`.`, EXIT.unreachable);
    }
    if (e instanceof ApiStatusError) throw new CliError(e.message, EXIT.invalid);
    throw e;
  }
}

/** Calls one of weftd's own endpoints (/apis/weft.dev/v1/...), mapping failures to CLI exit codes. */
export async function weftdRequest<T>(base: string, method: string, path: string, io: CliIO, body?: unknown): Promise<T> {
  const token = adminToken(io.env);
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach weftd at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}. Is it running? Start it with \`weft up\`.`, EXIT.unreachable);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const msg = (parsed as { message?: string } | undefined)?.message ?? text;
    throw new CliError(`${method} ${path}: ${res.status} ${msg}`);
  }
  return parsed as T;
}

export interface MeshInfo { xdsAddress: string; apiUrl: string; trustDomain: string; version: string }
