// The char-code checks answer exactly as the regular expressions (node:http's checks) they replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasInvalidValueChar, isToken, isTokenRange, isTrimmed, lowerName } from './chars.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

void test('isToken / hasInvalidValueChar / isTrimmed agree with the regular expressions for every UTF-16 code unit', () => {
  for (let c = 0; c < 0x10000; c++) {
    const ch = String.fromCharCode(c);
    for (const s of [ch, `a${ch}`, `${ch}b`]) {
      assert.equal(isToken(s), TOKEN.test(s), `isToken ${c}`);
      assert.equal(hasInvalidValueChar(s), INVALID_VALUE.test(s), `hasInvalidValueChar ${c}`);
    }
    if (c < 0x100) assert.equal(isTrimmed(c), ` ${ch} `.trim() === '', `isTrimmed ${c}`);
  }
  assert.equal(isToken(''), false);
  assert.equal(hasInvalidValueChar(''), false);
  assert.equal(isTokenRange('x-a:b', 0, 3), true);
  assert.equal(isTokenRange('x a:b', 0, 3), false);
  assert.equal(isTokenRange('abc', 1, 1), false);
});

void test('lowerName lower-cases, cached or not', () => {
  assert.equal(lowerName('Content-Type'), 'content-type');
  assert.equal(lowerName('Content-Type'), 'content-type');
  for (let i = 0; i < 600; i++) assert.equal(lowerName(`X-Name-${i}`), `x-name-${i}`);
});
