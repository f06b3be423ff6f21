// The char-code checks answer exactly as the regular expressions (node:http's checks) they replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOT_LOWER, SLOT_RAW, hasInvalidValueChar, isToken, isTokenRange, isTrimmed, lowerName, nameSlot } from './chars.js';

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

void test('nameSlot gives the spelling and lower case of a name inside a head, through hits, misses and collisions', () => {
  const names = ['__proto__', '123', 'constructor', 'Host', 'host', 'HOST', 'Content-Length', 'content-length', 'X-Request-Id', 'x-b3-traceid', 'A', 'ab', 'Ab'];
  for (let i = 0; i < 2000; i++) names.push(`X-Name-${i % 700}-${'q'.repeat(i % 7)}`);
  for (let round = 0; round < 2; round++) {
    for (const n of names) {
      const head = `GET / HTTP/1.1\r\nPre: x\r\n${n}: v\r\n\r\n`;
      const from = head.indexOf(`\n${n}:`) + 1;
      const k = nameSlot(head, from, from + n.length);
      assert.equal(SLOT_RAW[k], n);
      assert.equal(SLOT_LOWER[k], n.toLowerCase());
    }
  }
});
