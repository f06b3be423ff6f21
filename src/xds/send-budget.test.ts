import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendBudget } from './send-budget.js';

void test('send budget: writes within the limit go at once, the rest wait in order until bytes are released', async () => {
  const b = new SendBudget(100);
  assert.equal(b.acquire(60), undefined);
  const order: string[] = [];
  const second = b.acquire(60)?.then(() => order.push('second'));
  const third = b.acquire(10)?.then(() => order.push('third')); // fits, but must not overtake
  assert.ok(second && third);
  assert.equal(b.used, 60);
  b.release(60);
  await Promise.all([second, third]);
  assert.deepEqual(order, ['second', 'third']);
  assert.equal(b.used, 70);
});

void test('send budget: a response larger than the limit goes out alone', async () => {
  const b = new SendBudget(100);
  assert.equal(b.acquire(500), undefined);
  const next = b.acquire(1);
  assert.ok(next);
  b.release(500);
  await next;
  assert.equal(b.used, 1);
});
