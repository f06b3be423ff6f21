// The Bookinfo networking and platform YAML parse and pass Weft's config validation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { checkDocument } from '../../src/config/validate.js';

const root = new URL('../../../samples/bookinfo/', import.meta.url).pathname;

function docsOf(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  });
}

void describe('bookinfo yaml', () => {
  const files = ['networking', 'platform'].flatMap((dir) =>
    readdirSync(join(root, dir)).filter((f) => f.endsWith('.yaml')).map((f) => join(root, dir, f)),
  );

  void it('has the files Istio users expect', () => {
    const names = files.map((f) => f.slice(root.length));
    for (const n of ['networking/bookinfo-gateway.yaml', 'networking/destination-rule-all.yaml', 'networking/virtual-service-all-v1.yaml',
      'networking/virtual-service-reviews-test-v2.yaml', 'networking/virtual-service-reviews-80-20.yaml', 'networking/virtual-service-ratings-test-delay.yaml',
      'networking/virtual-service-ratings-test-abort.yaml', 'platform/services.yaml']) {
      assert.ok(names.includes(n), `missing ${n}`);
    }
  });

  void it('every document validates without errors', () => {
    for (const file of files) {
      for (const doc of docsOf(file)) {
        const checked = checkDocument(doc, 'default');
        const errors = checked.issues.filter((i) => i.severity === 'error');
        assert.deepEqual(errors, [], `${file} ${checked.identity.kind}/${checked.identity.name}`);
        assert.ok(checked.resource, `${file}: ${checked.identity.kind}/${checked.identity.name} not accepted`);
      }
    }
  });

  void it('the gateway VirtualService routes the productpage paths to productpage:9080', () => {
    const [, vs] = docsOf(join(root, 'networking/bookinfo-gateway.yaml')) as { spec: { http: { match: { uri: Record<string, string> }[]; route: { destination: { host: string; port: { number: number } } }[] }[] } }[];
    const matches = vs.spec.http[0].match.map((m) => m.uri);
    assert.deepEqual(matches, [{ exact: '/productpage' }, { prefix: '/static' }, { exact: '/login' }, { exact: '/logout' }, { prefix: '/api/v1/products' }]);
    assert.deepEqual(vs.spec.http[0].route[0].destination, { host: 'productpage', port: { number: 9080 } });
  });
});
