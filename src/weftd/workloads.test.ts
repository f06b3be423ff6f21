import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkloadRegistry } from './workloads.js';

const wl = (name: string) => ({ name, namespace: 'default', labels: { app: 'a' }, ports: { http: 9080 }, serviceAccount: 'default' });

test('a registration waits the first-connect grace for its sidecar, then the normal grace after a disconnect', () => {
  let now = 0;
  const r = new WorkloadRegistry({ addressBase: '127.251', graceMs: 2000, firstConnectGraceMs: 10_000, clock: () => now });
  try {
    r.register(wl('slow-start'));
    r.register(wl('never'));
    now = 5000;
    r.sweep();
    assert.ok(r.get('default', 'slow-start'), 'a sidecar still starting is not swept after graceMs');
    r.connected('default', 'slow-start');
    r.disconnected('default', 'slow-start');
    now = 6000;
    r.sweep();
    assert.ok(r.get('default', 'slow-start'));
    now = 7001;
    r.sweep();
    assert.equal(r.get('default', 'slow-start'), undefined, 'gone graceMs after its stream ended');
    assert.ok(r.get('default', 'never'));
    now = 10_000;
    r.sweep();
    assert.equal(r.get('default', 'never'), undefined, 'a sidecar that never connects is swept after the first-connect grace');
  } finally {
    r.close();
  }
});

test('re-registering a connected workload does not grant it the first-connect grace again', () => {
  let now = 0;
  const r = new WorkloadRegistry({ addressBase: '127.252', graceMs: 1000, firstConnectGraceMs: 10_000, clock: () => now });
  try {
    const a = r.register(wl('a'));
    r.connected('default', 'a');
    assert.equal(r.register(wl('a')).address, a.address, 'the same address again');
    now = 1000;
    r.sweep();
    assert.equal(r.get('default', 'a'), undefined);
  } finally {
    r.close();
  }
});
