// Decides whether a URL goes through the HTTP proxy named by HTTP_PROXY / http_proxy (the Weft
// sidecar's outbound listener), honouring NO_PROXY the way curl does. Node's http and fetch ignore
// these variables, so the samples and `weft load` apply them themselves.

export interface ProxyTarget {
  host: string;
  port: number;
}

type Env = Record<string, string | undefined>;

function envValue(env: Env, name: string): string | undefined {
  const v = env[name] ?? env[name.toLowerCase()];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Parses a proxy setting such as `http://127.0.0.5:15001` or `127.0.0.5:15001`. Throws on junk. */
export function parseProxySetting(value: string): ProxyTarget {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(`HTTP_PROXY: invalid proxy address ${JSON.stringify(value)}`);
  }
  if (u.protocol !== 'http:') throw new Error(`HTTP_PROXY: only http:// proxies are supported, got ${JSON.stringify(value)}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: u.port === '' ? 80 : Number(u.port) };
}

/** True when `host` (and `port`) match an entry of a NO_PROXY list. */
export function matchesNoProxy(noProxy: string, host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    const portMatch = /^(.*):(\d+)$/.exec(entry);
    if (portMatch && !entry.includes(']') && portMatch[1].includes(':') === false) {
      if (Number(portMatch[2]) !== port) continue;
      entry = portMatch[1];
    }
    entry = entry.replace(/^\*?\./, '.');
    if (entry.startsWith('.')) {
      if (h.endsWith(entry) || h === entry.slice(1)) return true;
    } else if (h === entry || h.endsWith(`.${entry}`)) {
      return true;
    }
  }
  return false;
}

/** The proxy to use for `url`, or undefined to connect directly. Only http:// URLs are proxied. */
export function proxyForUrl(url: URL, env: Env = process.env): ProxyTarget | undefined {
  if (url.protocol !== 'http:') return undefined;
  const setting = envValue(env, 'HTTP_PROXY');
  if (setting === undefined) return undefined;
  const port = url.port === '' ? 80 : Number(url.port);
  const noProxy = envValue(env, 'NO_PROXY');
  if (noProxy !== undefined && matchesNoProxy(noProxy, url.hostname, port)) return undefined;
  return parseProxySetting(setting);
}
