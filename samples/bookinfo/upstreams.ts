// Where a Bookinfo app finds its upstreams. Like Istio's Bookinfo: http://<NAME>_HOSTNAME<.SERVICES_DOMAIN>:9080
// (e.g. http://reviews:9080), plus two overrides for running without a mesh:
// <NAME>_SERVICE_PORT (the port, default 9080) and <NAME>_URL (a full base URL such as http://127.0.0.1:4001).
type Env = Record<string, string | undefined>;

export function serviceBaseUrl(service: 'details' | 'reviews' | 'ratings', env: Env = process.env): string {
  const upper = service.toUpperCase();
  const full = env[`${upper}_URL`];
  if (full !== undefined && full !== '') {
    try {
      return new URL(full).href.replace(/\/+$/, '');
    } catch {
      throw new Error(`${upper}_URL: not a valid URL: ${JSON.stringify(full)}`);
    }
  }
  const host = env[`${upper}_HOSTNAME`] || service;
  const domain = env.SERVICES_DOMAIN ? `.${env.SERVICES_DOMAIN}` : '';
  const port = env[`${upper}_SERVICE_PORT`] || '9080';
  if (!/^\d{1,5}$/.test(port)) throw new Error(`${upper}_SERVICE_PORT: not a port number: ${JSON.stringify(port)}`);
  return `http://${host}${domain}:${port}`;
}

/** Milliseconds from an env var, or the default; bad values are an error naming the variable. */
export function envMs(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected milliseconds, got ${JSON.stringify(raw)}`);
  return n;
}
