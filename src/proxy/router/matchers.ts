// Envoy StringMatcher / HeaderMatcher / QueryParameterMatcher compiled into predicates once per push.
import { ConfigError, type Obj, bool, isObj, obj, str } from '../wire.js';
import { type RequestView, headerValue, queryOf } from './request.js';

export type StringPredicate = (v: string) => boolean;

/** RE2 pattern -> JS RegExp anchored for a full match. RE2's (?P<name>) becomes (?<name>). */
export function compileRegex(pattern: string, path: string, flags = ''): RegExp {
  try {
    return new RegExp(`^(?:${pattern.replace(/\(\?P</g, '(?<')})$`, flags);
  } catch (e) {
    throw new ConfigError(path, `invalid regex ${JSON.stringify(pattern)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function regexOf(v: unknown, path: string, flags = ''): RegExp {
  const r = obj(v, path);
  return compileRegex(str(r.regex, `${path}.regex`), `${path}.regex`, flags);
}

/** envoy.type.matcher.v3.StringMatcher. */
export function compileStringMatcher(m: Obj, path: string): StringPredicate {
  const ic = bool(m.ignore_case, `${path}.ignore_case`, false);
  const norm = (s: string): string => (ic ? s.toLowerCase() : s);
  if (typeof m.exact === 'string') {
    const x = norm(m.exact);
    return ic ? (v) => v.toLowerCase() === x : (v) => v === x;
  }
  if (typeof m.prefix === 'string') {
    const x = norm(m.prefix);
    return ic ? (v) => v.toLowerCase().startsWith(x) : (v) => v.startsWith(x);
  }
  if (typeof m.suffix === 'string') {
    const x = norm(m.suffix);
    return ic ? (v) => v.toLowerCase().endsWith(x) : (v) => v.endsWith(x);
  }
  if (typeof m.contains === 'string') {
    const x = norm(m.contains);
    return ic ? (v) => v.toLowerCase().includes(x) : (v) => v.includes(x);
  }
  if (m.safe_regex !== undefined) {
    const re = regexOf(m.safe_regex, `${path}.safe_regex`, ic ? 'i' : '');
    return (v) => re.test(v);
  }
  throw new ConfigError(path, 'string matcher needs one of exact, prefix, suffix, contains, safe_regex');
}

export type RequestPredicate = (req: RequestView) => boolean;

/** envoy.config.route.v3.HeaderMatcher. */
export function compileHeaderMatcher(h: Obj, path: string): RequestPredicate {
  const name = str(h.name, `${path}.name`).toLowerCase();
  if (!name) throw new ConfigError(`${path}.name`, 'missing');
  const invert = bool(h.invert_match, `${path}.invert_match`, false);
  const missingAsEmpty = bool(h.treat_missing_header_as_empty, `${path}.treat_missing_header_as_empty`, false);
  let test: StringPredicate | undefined;
  let presentWanted: boolean | undefined;
  if (isObj(h.string_match)) test = compileStringMatcher(h.string_match, `${path}.string_match`);
  else if (typeof h.exact_match === 'string') test = compileStringMatcher({ exact: h.exact_match }, path);
  else if (typeof h.prefix_match === 'string') test = compileStringMatcher({ prefix: h.prefix_match }, path);
  else if (typeof h.suffix_match === 'string') test = compileStringMatcher({ suffix: h.suffix_match }, path);
  else if (typeof h.contains_match === 'string') test = compileStringMatcher({ contains: h.contains_match }, path);
  else if (h.safe_regex_match !== undefined) test = compileStringMatcher({ safe_regex: h.safe_regex_match }, path);
  else if (isObj(h.range_match)) {
    const start = Number(h.range_match.start ?? 0);
    const end = Number(h.range_match.end ?? 0);
    test = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
  } else presentWanted = h.present_match === undefined ? true : bool(h.present_match, `${path}.present_match`, true);
  if (presentWanted !== undefined) {
    const want = presentWanted;
    return (req) => (headerValue(req, name) !== undefined) === want !== invert;
  }
  const t = test!;
  return (req) => {
    let v = headerValue(req, name);
    if (v === undefined) {
      if (!missingAsEmpty) return invert;
      v = '';
    }
    return t(v) !== invert;
  };
}

/** envoy.config.route.v3.QueryParameterMatcher. */
export function compileQueryMatcher(q: Obj, path: string): RequestPredicate {
  const name = str(q.name, `${path}.name`);
  if (!name) throw new ConfigError(`${path}.name`, 'missing');
  if (isObj(q.string_match)) {
    const t = compileStringMatcher(q.string_match, `${path}.string_match`);
    return (req) => {
      const v = queryOf(req).get(name);
      return v !== null && t(v);
    };
  }
  const want = bool(q.present_match, `${path}.present_match`, true);
  return (req) => queryOf(req).has(name) === want;
}
