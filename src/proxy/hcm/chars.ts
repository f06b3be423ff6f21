// Character checks of HTTP/1.1 header names and values, as loops over char codes: the same answers as
// node:http's checks (and the regular expressions this replaced), without a RegExp call per header.

/** RFC 9110 tchar, by char code (0..127). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

/** A non-empty token (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/). */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** Whether `s[from..to)` is a token. */
export function isTokenRange(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** A character node:http refuses in a header value (/[^\t\x20-\x7e\x80-\xff]/). */
export function hasInvalidValueChar(s: string): boolean {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 ? c !== 9 : c === 0x7f || c > 0xff) return true;
  }
  return false;
}

/** What String.prototype.trim removes, within latin1: TAB, LF, VT, FF, CR, SP, NBSP. */
export function isTrimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

/** Lower-cased header names by their spelling on the wire (peers repeat the same few names). */
const LOWER = new Map<string, string>();
const LOWER_MAX = 512;

/** `raw.toLowerCase()`, from a bounded cache: the cached string is already a property key V8 knows. */
export function lowerName(raw: string): string {
  let l = LOWER.get(raw);
  if (l === undefined) {
    l = raw.toLowerCase();
    if (LOWER.size < LOWER_MAX) LOWER.set(raw, l);
  }
  return l;
}

/**
 * Header names by their spelling on the wire in a small 2-way set-associative cache (peers repeat the
 * same few names): a hit costs a comparison in place, with no substring, no hash of a new string and
 * no Map lookup. Two ways per set, so two hot names that hash alike do not evict each other. A slot
 * holds the name as spelled and lower-cased.
 */
const SETS = 512;
export const SLOT_RAW: string[] = new Array<string>(2 * SETS).fill('');
export const SLOT_LOWER: string[] = new Array<string>(2 * SETS).fill('');

/** The internalized string equal to `x` (a property key comes back internalized). */
function internalized(x: string): string {
  return Object.keys({ [x]: 0 })[0] ?? x;
}

function sameName(s: string, from: number, n: number, cached: string): boolean {
  return cached.length === n && s.startsWith(cached, from);
}

/** The slot of the name `s[from..to)` (from < to): SLOT_RAW[slot] is its spelling, SLOT_LOWER[slot] its lower case. */
export function nameSlot(s: string, from: number, to: number): number {
  const n = to - from;
  let x = Math.imul(n ^ s.charCodeAt(from), 0x01000193);
  x = Math.imul(x ^ s.charCodeAt(from + (n >> 1)), 0x01000193);
  x = Math.imul(x ^ s.charCodeAt(to - 1), 0x01000193);
  const k = ((x ^ (x >>> 15)) & (SETS - 1)) << 1;
  if (sameName(s, from, n, SLOT_RAW[k])) return k;
  if (sameName(s, from, n, SLOT_RAW[k + 1])) return k + 1;
  // Miss: the set's first way takes the name, its previous name moves to the second way.
  SLOT_RAW[k + 1] = SLOT_RAW[k];
  SLOT_LOWER[k + 1] = SLOT_LOWER[k];
  // Internalized (as property keys are), so header objects take them as keys without a string-table
  // lookup; an internalized string is its own copy, so the slot does not keep the head alive.
  const raw = internalized(s.slice(from, to));
  SLOT_RAW[k] = raw;
  SLOT_LOWER[k] = internalized(raw.toLowerCase());
  return k;
}
