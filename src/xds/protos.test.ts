import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny, unpackAny, toStruct, fromStruct, parseDurationMs, msToDuration, durationToMs, encodeMessage, decodeMessage } from './protos.js';

void test('a Listener with a typed HCM round-trips through Any', () => {
  const listener = {
    name: 'reviews:9080',
    api_listener: {
      api_listener: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'x',
        rds: { route_config_name: 'r', config_source: { ads: {} } },
        http_filters: [{ name: 'router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      },
    },
  };
  const any = packAny(TYPE.listener, listener);
  const back = unpackAny<typeof listener>(any);
  assert.equal(back.name, 'reviews:9080');
  const hcm = back.api_listener.api_listener;
  assert.equal(hcm['@type'], listener.api_listener.api_listener['@type']);
  assert.equal(hcm.rds.route_config_name, 'r');
  assert.equal(hcm.http_filters[0].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
});

void test('packing an Any whose type is not loaded is refused instead of silently emptied', () => {
  assert.throws(() => packAny(TYPE.listener, { name: 'x', api_listener: { api_listener: { '@type': 'type.googleapis.com/no.such.Type' } } }), /not loaded/);
});

void test('Struct conversion keeps nested values', () => {
  const s = toStruct({ a: 'x', b: 2, c: true, d: { e: ['f'] }, n: null });
  const bytes = encodeMessage('envoy.config.core.v3.Node', { id: 'n', metadata: s });
  const node = decodeMessage<{ metadata: Parameters<typeof fromStruct>[0] }>('envoy.config.core.v3.Node', bytes);
  assert.deepEqual(fromStruct(node.metadata), { a: 'x', b: 2, c: true, d: { e: ['f'] }, n: null });
});

void test('durations parse as Istio writes them', () => {
  assert.equal(parseDurationMs('2s'), 2000);
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('1m'), 60000);
  assert.equal(parseDurationMs('1h'), 3600000);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('2h45m'), 9900000);
  assert.equal(parseDurationMs('2'), undefined);
  assert.equal(parseDurationMs('s'), undefined);
  assert.equal(durationToMs(msToDuration(1500)), 1500);
});
