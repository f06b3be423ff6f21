// Every Istio document in the seeds applies unchanged through weftd, and `weft get -o json` returns it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { loadPaths } from '../../src/config/index.js';
import { lookupKind } from '../../src/model/index.js';
import { captureIO } from '../helpers/io.js';
import { ROOT } from '../helpers/mesh.js';
import { startTestWeftd } from '../helpers/weftd.js';

const SEEDS = join(ROOT, 'test', 'fixtures', 'seeds');
const WORKLOADS = join(ROOT, 'test', 'fixtures', 'seeds-workloads');
let weftd: Awaited<ReturnType<typeof startTestWeftd>>;

before(async () => { weftd = await startTestWeftd(); });
after(async () => { await weftd.cleanup(); });

const files = readdirSync(SEEDS).filter((f) => /\.ya?ml$/.test(f)).sort();

test('the seed fixtures are all there', () => {
  assert.ok(files.length >= 50, `only ${files.length} seed fixtures`);
});

for (const f of files) {
  test(`seed ${f}: weft apply, then weft get returns the same spec`, async () => {
    const path = join(SEEDS, f);
    const io = captureIO({ WEFT_CONTROL_PLANE: weftd.apiUrl });
    const code = await main(['apply', '-f', path], io);
    assert.equal(code, 0, io.stderr());
    const { documents } = await loadPaths([path]);
    assert.ok(documents.length > 0);
    for (const { resource } of documents) {
      const info = lookupKind(resource.kind)!;
      const g = captureIO({ WEFT_CONTROL_PLANE: weftd.apiUrl });
      const args = ['get', info.plural, resource.metadata.name, '-o', 'json', ...(info.namespaced ? ['-n', resource.metadata.namespace ?? 'default'] : [])];
      assert.equal(await main(args, g), 0, g.stderr());
      const got = JSON.parse(g.stdout()) as { spec: unknown; kind: string; apiVersion: string };
      assert.equal(got.kind, resource.kind);
      assert.equal(got.apiVersion, resource.apiVersion);
      assert.deepEqual(got.spec, resource.spec);
    }
  });
}

for (const f of readdirSync(WORKLOADS).filter((x) => /\.ya?ml$/.test(x)).sort()) {
  test(`seed workload ${f}: refused with the weft run message, nothing applied`, async () => {
    const io = captureIO({ WEFT_CONTROL_PLANE: weftd.apiUrl });
    const before = await weftd.store.list();
    assert.equal(await main(['apply', '-f', join(WORKLOADS, f)], io), 1);
    assert.match(io.stderr(), /weft run/);
    assert.equal((await weftd.store.list()).length, before.length);
  });
}
