import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

test('a swept workload is registered again, as it was, when its sidecar reconnects from its address', () => {
  let now = 0;
  let changes = 0;
  const restored: string[] = [];
  const r = new WorkloadRegistry({ addressBase: '127.253', graceMs: 1000, clock: () => now, onRestored: (w) => restored.push(w.name) });
  r.on('change', () => changes++);
  try {
    const a = r.register({ ...wl('a'), ready: true, locality: 'r/z' });
    r.connected('default', 'a', a.address);
    r.disconnected('default', 'a');
    now = 1000;
    r.sweep();
    assert.equal(r.get('default', 'a'), undefined, 'swept after the grace');
    assert.equal(r.register(wl('b')).address === a.address, false, 'a swept workload keeps its address reserved');
    r.connected('default', 'a', '127.253.0.99');
    assert.equal(r.get('default', 'a'), undefined, 'a sidecar at another address does not bring it back');
    const before = changes;
    r.connected('default', 'a', a.address);
    assert.deepEqual(r.get('default', 'a'), a, 'same address, labels, ports, readiness and locality');
    assert.equal(changes, before + 1, 'endpoints are rebuilt');
    assert.deepEqual(restored, ['a']);
    assert.deepEqual(r.listSwept(), []);
    // Back to normal: connected, so the next disconnect gets the normal grace again.
    r.disconnected('default', 'a');
    now = 1999;
    r.sweep();
    assert.ok(r.get('default', 'a'));
    now = 2000;
    r.sweep();
    assert.equal(r.get('default', 'a'), undefined);
  } finally {
    r.close();
  }
});

test('deregistered or never-connected workloads do not come back; swept ones survive a restart through the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-workloads-'));
  const file = join(dir, 'workloads.json');
  let now = 0;
  const r = new WorkloadRegistry({ file, addressBase: '127.254', graceMs: 1000, firstConnectGraceMs: 1000, clock: () => now });
  try {
    const gone = r.register(wl('gone'));
    const left = r.register(wl('left'));
    const never = r.register(wl('never'));
    for (const w of [gone, left]) {
      r.connected('default', w.name, w.address);
      r.disconnected('default', w.name);
    }
    assert.equal(r.deregister('default', 'left'), true);
    now = 1000;
    r.sweep();
    assert.deepEqual(r.listSwept().map((w) => w.name), ['gone'], 'only a workload whose sidecar was connected is remembered');
    r.connected('default', 'left', left.address);
    r.connected('default', 'never', never.address);
    assert.equal(r.get('default', 'left'), undefined, 'deregistered means gone for good');
    assert.equal(r.get('default', 'never'), undefined);
  } finally {
    r.close();
  }
  // weftd restarted: the swept workload comes back when its sidecar reconnects to the new one.
  const again = new WorkloadRegistry({ file, addressBase: '127.254', graceMs: 1000, clock: () => now });
  try {
    const w = again.listSwept()[0];
    again.connected('default', 'gone', w.address);
    assert.equal(again.get('default', 'gone')?.address, w.address);
    // ...and deregistering it forgets it on disk too.
    again.deregister('default', 'gone');
  } finally {
    again.close();
  }
  const third = new WorkloadRegistry({ file, addressBase: '127.254', graceMs: 1000, clock: () => now });
  try {
    assert.deepEqual([third.list(), third.listSwept()], [[], []]);
  } finally {
    third.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a registry file of the older format (a plain array of workloads) still loads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-workloads-'));
  const file = join(dir, 'workloads.json');
  writeFileSync(file, JSON.stringify([{ ...wl('old'), address: '127.250.0.7' }]));
  const r = new WorkloadRegistry({ file, addressBase: '127.250', graceMs: 1000 });
  try {
    assert.equal(r.get('default', 'old')?.address, '127.250.0.7');
  } finally {
    r.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs the burst child until it acknowledged `acks` registrations, SIGKILLs it, returns what it acknowledged. */
function burstAndKill(file: string, mode: string, acks: number): Promise<{ live: Set<string>; gone: Set<string> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./workloads-crash-child.js', import.meta.url)), file, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const live = new Set<string>();
  const gone = new Set<string>();
  let buf = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`only ${live.size} acks in time; stderr: ${stderr}`)); }, 15_000);
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = /^ack (\S+)(?: gone (\S+))?$/.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (!m) continue;
        live.add(m[1]);
        if (m[2]) { live.delete(m[2]); gone.add(m[2]); }
        if (live.size >= acks && child.exitCode === null) child.kill('SIGKILL');
      }
    });
    child.on('exit', () => { clearTimeout(timer); resolve({ live, gone }); });
  });
}

for (const mode of ['batched', 'each change durable']) {
  test(`a burst of registrations (${mode}) killed with SIGKILL: every acknowledged one is there after a restart`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-workloads-burst-'));
    const file = join(dir, 'workloads.json');
    try {
      // Two kill rounds: the second replays the first's journal (and compacts past 1000 lines) before adding to it.
      for (const acks of mode === 'batched' ? [600, 1400] : [250, 600]) {
        const { live, gone } = await burstAndKill(file, mode === 'batched' ? 'batched' : 'sync', acks);
        const r = new WorkloadRegistry({ file, addressBase: '127.249', graceMs: 3_600_000 });
        try {
          for (const name of live) assert.equal(r.get('default', name)?.ready, true, `acknowledged ${name} is registered and ready`);
          for (const name of gone) assert.equal(r.get('default', name), undefined, `deregistered ${name} stays gone`);
          const addresses = r.list().map((w) => w.address);
          assert.equal(new Set(addresses).size, addresses.length, 'no address handed out twice');
        } finally {
          r.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
