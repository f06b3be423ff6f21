import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConsistency } from './consistency.js';
import { TYPES } from './envoy.js';

const hcm = (extra: object): object => ({ '@type': TYPES.hcm, stat_prefix: 'x', http_filters: [], ...extra });

function resources(): { listeners: Map<string, object>; routes: Map<string, object>; clusters: Map<string, object>; endpoints: Map<string, object> } {
  return {
    listeners: new Map<string, object>([
      ['0.0.0.0_9080', { name: '0.0.0.0_9080', filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm({ rds: { route_config_name: '9080' } }) }] }] }],
      ['greeter:50051', { name: 'greeter:50051', api_listener: { api_listener: hcm({ rds: { route_config_name: 'greeter:50051' } }) } }],
    ]),
    routes: new Map<string, object>([
      ['9080', { name: '9080', virtual_hosts: [{ name: 'r', domains: ['r'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 50 } }, { name: 'b', weight: { value: 50 } }] } } }] }] }],
      ['greeter:50051', { name: 'greeter:50051', virtual_hosts: [{ name: 'g', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a' } }] }] }],
    ]),
    clusters: new Map<string, object>([
      ['a', { name: 'a', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: 'a' } }],
      ['b', { name: 'b', type: 'EDS' }],
    ]),
    endpoints: new Map<string, object>([['a', { cluster_name: 'a' }], ['b', { cluster_name: 'b' }]]),
  };
}

void test('a complete set is consistent', () => {
  assert.deepEqual(checkConsistency(resources()), []);
});

void test('missing route config, cluster and load assignment are each reported', () => {
  const r = resources();
  r.routes.delete('greeter:50051');
  r.clusters.delete('b');
  r.endpoints.delete('a');
  assert.deepEqual(checkConsistency(r), [
    'listener greeter:50051 references route config greeter:50051, which does not exist',
    'route config 9080 references cluster b, which does not exist',
    'cluster a (EDS) has no ClusterLoadAssignment a',
  ]);
});

void test('inline routes and tcp_proxy clusters are checked too', () => {
  const r = resources();
  r.listeners.set('127.0.0.1_80', { name: '127.0.0.1_80', filter_chains: [{ filters: [
    { name: 'envoy.filters.network.http_connection_manager', typed_config: hcm({ route_config: { name: 'inbound|80||', virtual_hosts: [{ routes: [{ route: { cluster: 'inbound|80||' } }] }] } }) },
  ] }, { filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TYPES.tcpProxy, stat_prefix: 's', cluster: 'PassthroughCluster' } }] }] });
  assert.deepEqual(checkConsistency(r), [
    'listener 127.0.0.1_80 (inline route inbound|80||) references cluster inbound|80||, which does not exist',
    'listener 127.0.0.1_80 (tcp_proxy) references cluster PassthroughCluster, which does not exist',
  ]);
});
