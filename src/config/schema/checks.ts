// Value checks shared by the API groups: names, hosts, labels, regexes, addresses.

import { RE2JS } from 're2js';
import type { PathSeg } from '../diagnostics.js';
import { type Check, type Ctx, type Obj, type Schema, int, map, num, obj, str, withCheck } from './dsl.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export const dnsName: Check<string> = (v, path, ctx) => {
  if (!isDns1123Subdomain(v)) {
    ctx.error(path, 'WEFT-NAME', `invalid name "${v}": must be a DNS-1123 name (lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters)`);
  }
};
export const dnsLabel: Check<string> = (v, path, ctx) => {
  if (!isDns1123Label(v)) {
    ctx.error(path, 'WEFT-NAME', `invalid name "${v}": must be a DNS-1123 label (lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters)`);
  }
};

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}
export function isIP(s: string): boolean {
  return isIPv4(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/::/g)?.length ?? 0) <= 1);
}
export function isCidr(s: string): boolean {
  const [ip, bits, extra] = s.split('/');
  if (extra !== undefined) return false;
  if (bits === undefined) return isIP(ip);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return isIPv4(ip) ? Number(bits) <= 32 : isIP(ip) && Number(bits) <= 128;
}
export const cidr: Check<string> = (v, path, ctx) => {
  if (!isCidr(v)) ctx.error(path, 'WEFT-ADDRESS', `invalid IP address or CIDR block "${v}"`);
};
export const ipAddress: Check<string> = (v, path, ctx) => {
  if (!isIP(v)) ctx.error(path, 'WEFT-ADDRESS', `invalid IP address "${v}"`);
};

/** Why `h` is not a valid host (`*`, `*.example.com`, `reviews`, `reviews.default.svc.cluster.local`), or undefined. */
export function hostProblem(h: string, allowIp = false): string | undefined {
  if (h === '') return 'host must not be empty';
  if (h === '*') return undefined;
  if (allowIp && isCidr(h)) return undefined;
  let rest = h;
  if (h.startsWith('*.')) rest = h.slice(2);
  else if (h.startsWith('*')) rest = h.slice(1); // `*foo.com` is a legal Istio wildcard prefix
  if (rest.includes('*')) return `invalid host "${h}": a wildcard "*" is only allowed at the start`;
  if (rest.length > 253) return `invalid host "${h}": longer than 253 characters`;
  if (rest !== rest.toLowerCase()) return `invalid host "${h}": host names must be lowercase (use "${h.toLowerCase()}")`;
  const labels = rest.replace(/\.$/, '').split('.');
  for (const l of labels) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(l) || l.length > 63) {
      return `invalid host "${h}": "${l}" is not a valid DNS label (lowercase letters, digits and '-')`;
    }
  }
  return undefined;
}
export const host: Check<string> = (v, path, ctx) => {
  const p = hostProblem(v);
  if (p) ctx.error(path, 'WEFT-HOST', p);
};
/** Gateway server / Sidecar egress hosts: `[namespace/]dnsName`, namespace may be `*`, `.` or `~`. */
export const nsHost: Check<string> = (v, path, ctx) => {
  const parts = v.split('/');
  if (parts.length > 2) return ctx.error(path, 'WEFT-HOST', `invalid host "${v}": use "namespace/host"`);
  if (parts.length === 2) {
    const ns = parts[0];
    if (ns !== '*' && ns !== '.' && ns !== '~' && !isDns1123Label(ns)) {
      return ctx.error(path, 'WEFT-HOST', `invalid namespace "${ns}" in host "${v}"`);
    }
  }
  const p = hostProblem(parts[parts.length - 1], true);
  if (p) ctx.error(path, 'WEFT-HOST', p);
};

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** Kubernetes label key: optional DNS-subdomain prefix + '/' + name of at most 63 characters. */
export function labelKeyProblem(k: string): string | undefined {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return `invalid label key "${k}": prefix "${prefix}" must be a DNS-1123 subdomain`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `invalid label key "${k}": name part must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}
export function labelValueProblem(v: string): string | undefined {
  if (v === '') return undefined;
  if (v.length > 63 || !LABEL_NAME.test(v)) {
    return `invalid label value "${v}": must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}
const labelKey: Check<string> = (k, path, ctx) => {
  const p = labelKeyProblem(k);
  if (p) ctx.error(path, 'WEFT-LABEL', p, 'key');
};
/** A label map (selector or labels): keys and values in Kubernetes syntax. */
export const labels = (): Schema => map(withCheck<string>(str(), (v, path, ctx) => {
  const p = labelValueProblem(v);
  if (p) ctx.error(path, 'WEFT-LABEL', p);
}), { keyCheck: labelKey });
/** Annotations: any string values, keys like label keys. */
export const annotations = (): Schema => map(str(), { keyCheck: labelKey });

export function regexProblem(re: string): string | undefined {
  try {
    RE2JS.compile(re);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
export const regex: Check<string> = (v, path, ctx) => {
  const p = regexProblem(v);
  if (p) ctx.error(path, 'WEFT-REGEX', `invalid RE2 regex ${JSON.stringify(v)}: ${p}`);
};

export const port = (): Schema => int(1, 65535);
export const percent = (): Schema => obj({ value: num(0, 100) });

/** Reports entries of `items` that repeat `field`'s value. */
export function uniqueBy(items: readonly unknown[], field: string, path: PathSeg[], ctx: Ctx, what: string): void {
  const seen = new Map<unknown, number>();
  items.forEach((it, i) => {
    const v = (it as Obj | null)?.[field];
    if (v === undefined || v === null) return;
    const first = seen.get(v);
    if (first !== undefined) ctx.error([...path, i, field], 'WEFT-DUPLICATE', `duplicate ${what} ${JSON.stringify(v)} (also at index ${first})`);
    else seen.set(v, i);
  });
}
