// Every seed fixture (test/fixtures/seeds, extracted from the tutorials) is loaded through the real
// ingestion (src/config) and translated for a sidecar, an ingress gateway and a gRPC client: nothing
// may throw, everything must encode losslessly and compile in the sidecar. The only dangling
// references allowed are routes to hosts the fixture does not define (Istio's 503 NC).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseText } from '../../src/config/index.js';
import { createSnapshot, registryFor } from '../../src/registry/index.js';
import { translate, translateForGrpc, checkConsistency, type ProxyInfo } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { roundTripMismatches } from './resources.js';
import { compileWithSidecar } from './simulate.js';

const SEEDS = join(fileURLToPath(new URL('../../..', import.meta.url)), 'test', 'fixtures', 'seeds');
const files = existsSync(SEEDS) ? readdirSync(SEEDS).filter((f) => f.endsWith('.yaml')).sort() : [];

const sidecar: ProxyInfo = { id: 'sidecar~127.0.9.1~client.default~default.svc.cluster.local', kind: 'sidecar', name: 'client', namespace: 'default',
  labels: { app: 'client' }, address: '127.0.9.1', serviceAccount: 'default' };
const gateway: ProxyInfo = { id: 'router~127.0.9.2~gw.istio-system~istio-system.svc.cluster.local', kind: 'gateway', name: 'gw', namespace: 'istio-system',
  labels: { istio: 'ingressgateway', app: 'orange-gateway-a' }, address: '127.0.9.2', serviceAccount: 'gw' };
const grpcClient: ProxyInfo = { id: 'c', kind: 'grpc', name: 'c', namespace: 'default', labels: {}, address: '', serviceAccount: 'default' };

void test('seed fixtures are present', { skip: files.length === 0 ? 'test/fixtures/seeds not extracted yet' : false }, () => {
  assert.ok(files.length > 0);
});

for (const file of files) {
  void test(`seed ${file} translates cleanly`, () => {
    const { documents } = parseText(readFileSync(join(SEEDS, file), 'utf8'), file);
    const snap = createSnapshot(file, documents.map((d) => d.resource), []);
    for (const proxy of [sidecar, gateway]) {
      const r = translate(snap, proxy);
      const problems = checkConsistency(r).filter((p) => !/^route config .* references cluster outbound\|/.test(p));
      assert.deepEqual(problems, [], `${file} (${proxy.kind})`);
      assert.deepEqual(roundTripMismatches(r).map((b) => b.name), [], `${file} (${proxy.kind})`);
      for (const rc of r.routes.values()) compileWithSidecar(rc);
    }
    const names = registryFor(snap).allServices().flatMap((s) => s.ports.map((p) => `${s.hostname}:${p.port}`));
    const lds = translateForGrpc(snap, grpcClient, TYPE.listener, names);
    const rds = translateForGrpc(snap, grpcClient, TYPE.route, names);
    assert.deepEqual(roundTripMismatches({ listeners: lds, routes: rds, clusters: new Map(), endpoints: new Map() }).map((b) => b.name), []);
  });
}
