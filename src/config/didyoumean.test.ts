import { test } from 'node:test';
import assert from 'node:assert/strict';
import { didYouMean, editDistance, suggest } from './didyoumean.js';

void test('editDistance counts insertions, deletions, substitutions and swaps as one edit each', () => {
  assert.equal(editDistance('hosts', 'hosts'), 0);
  assert.equal(editDistance('host', 'hosts'), 1);
  assert.equal(editDistance('hostz', 'hosts'), 1);
  assert.equal(editDistance('wieght', 'weight'), 1); // swapped pair
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

void test('suggest finds the plausible typo and nothing for unrelated words', () => {
  const fields = ['hosts', 'gateways', 'http', 'tls', 'tcp', 'exportTo'];
  assert.equal(suggest('hostz', fields), 'hosts');
  assert.equal(suggest('gateway', fields), 'gateways');
  assert.equal(suggest('Hosts', fields), 'hosts');
  assert.equal(suggest('export_to', fields), 'exportTo');
  assert.equal(suggest('foobar', fields), undefined);
  assert.equal(suggest('x', fields), undefined);
  assert.equal(suggest('round_robin', ['RANDOM', 'ROUND_ROBIN', 'LEAST_REQUEST']), 'ROUND_ROBIN');
  assert.equal(suggest('destinaton', ['destination', 'weight', 'headers']), 'destination');
});

void test('didYouMean formats the hint or returns an empty string', () => {
  assert.equal(didYouMean('specs', ['spec', 'metadata']), ' (did you mean "spec"?)');
  assert.equal(didYouMean('zzz', ['spec', 'metadata']), '');
});
