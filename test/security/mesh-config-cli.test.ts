// `weft up --mesh-config FILE` carries trustDomain (certificates and the trust bundle are in it) and
// refuses a bad file naming file, line and field, before anything starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT, stopGroup } from '../helpers/mesh.js';
import { pollUntil } from '../e2e/helpers.js';

function up(dir: string, meshFile: string) {
  const child = spawn(process.execPath, [WEFT, 'up', '--mesh-config', meshFile, '--no-gateway', '--api-port', '0', '--xds-port', '0', '--host', '127.0.0.1',
    '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  return { child, output: () => out };
}

void test('weft up --mesh-config: the trust domain reaches the CA and the trust bundle', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-meshcfg-'));
  const file = join(dir, 'mesh.yaml');
  writeFileSync(file, 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n    trustDomain: new-td\n    trustDomainAliases: [old-td]\n');
  const p = up(dir, file);
  try {
    let api = '';
    await pollUntil('weftd up', () => Promise.resolve(!!(api = /config API\s+(http:\/\/\S+)/.exec(p.output())?.[1] ?? '')), 20_000)
      .catch((e: Error) => { throw new Error(`${e.message}\n${p.output()}`); });
    const tb = await (await fetch(`${api}/apis/weft.dev/v1/trustbundle`)).json() as { trustDomain: string; rootCert: string };
    assert.equal(tb.trustDomain, 'new-td');
  } finally {
    await stopGroup(p.child, 5000);
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('weft up --mesh-config with a bad trust domain exits naming file, line and field', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-meshcfg-'));
  const file = join(dir, 'mesh.yaml');
  writeFileSync(file, 'trustDomain: ok.td\ntrustDomainAliases:\n  - "spiffe://old"\n');
  const p = up(dir, file);
  try {
    const code = await new Promise<number | null>((r) => p.child.once('exit', r));
    assert.notEqual(code, 0);
    assert.match(p.output(), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: trustDomainAliases\\[0\\]: invalid trust domain "spiffe://old"`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
