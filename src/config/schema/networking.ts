// networking.istio.io schemas other than VirtualService: DestinationRule, Gateway, ServiceEntry,
// WorkloadEntry, WorkloadGroup, Sidecar, EnvoyFilter.

import { didYouMean } from '../didyoumean.js';
import type { PathSeg } from '../diagnostics.js';
import { cidr, dnsLabel, host, labels, annotations, nsHost, percent, port, regex, uniqueBy } from './checks.js';
import { type Ctx, type Obj, type Schema, any, bool, isObj, deprecated, dur, enm, int, list, map, num, obj, str, strList, withCheck } from './dsl.js';
import { destination, exportTo, portSelector } from './virtualservice.js';

const MS = 1;

// ---- DestinationRule


/** Istio's validateLocalityLbSetting: distribute xor failover, weights summing to 100, regions only in failover. */
const localityLbCheck = (v: Record<string, unknown>, path: PathSeg[], ctx: Ctx): void => {
  const distribute = Array.isArray(v.distribute) ? (v.distribute as Record<string, unknown>[]) : [];
  const failover = Array.isArray(v.failover) ? (v.failover as Record<string, unknown>[]) : [];
  if (distribute.length > 0 && failover.length > 0) ctx.error(path, 'WEFT-LOCALITY', "can not simultaneously specify 'distribute' and 'failover'");
  const badLocality = (l: string): boolean => {
    const parts = l.split('/');
    return l === '' || parts.length > 3 || parts.some((p, i) => p === '' || (p.includes('*') && (p !== '*' || i !== parts.length - 1)));
  };
  distribute.forEach((d, i) => {
    if (typeof d?.from === 'string' && badLocality(d.from)) ctx.error([...path, 'distribute', i, 'from'], 'WEFT-LOCALITY', `invalid locality "${d.from}": region[/zone[/subzone]], "*" only as the last part`);
    const to = d?.to && typeof d.to === 'object' ? (d.to as Record<string, unknown>) : {};
    let total = 0;
    for (const [loc, w] of Object.entries(to)) {
      if (badLocality(loc)) ctx.error([...path, 'distribute', i, 'to'], 'WEFT-LOCALITY', `invalid locality "${loc}": region[/zone[/subzone]], "*" only as the last part`);
      if (typeof w === 'number') {
        if (w < 1) ctx.error([...path, 'distribute', i, 'to'], 'WEFT-LOCALITY', `locality weight of "${loc}" must be in range [1, 100]`);
        total += w;
      }
    }
    if (total !== 100) ctx.error([...path, 'distribute', i, 'to'], 'WEFT-LOCALITY', `total locality weight ${total} != 100`);
  });
  failover.forEach((f, i) => {
    const from = typeof f?.from === 'string' ? f.from : '';
    const to = typeof f?.to === 'string' ? f.to : '';
    if (from === to) ctx.error([...path, 'failover', i], 'WEFT-LOCALITY', 'locality lb failover settings must specify different regions');
    if (from.includes('/') || to.includes('/')) ctx.error([...path, 'failover', i], 'WEFT-LOCALITY', 'locality lb failover only specifies regions');
    if (from.includes('*') || to.includes('*')) ctx.error([...path, 'failover', i], 'WEFT-LOCALITY', "locality lb failover region should not contain '*' wildcard");
  });
};

/** LocalityLoadBalancerSetting: DestinationRule loadBalancer.localityLbSetting and meshConfig.localityLbSetting. */
export const localityLbSetting = (): Schema => obj({
  distribute: list(obj({ from: str(), to: map(int(0, 100)) })), failover: list(obj({ from: str(), to: str() })),
  failoverPriority: strList(), enabled: bool(),
}, { check: localityLbCheck });

const loadBalancer = (): Schema => obj({
  simple: enm(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'],
    { deprecatedValues: { LEAST_CONN: 'LEAST_CONN is deprecated; use LEAST_REQUEST' } }),
  consistentHash: obj({
    httpHeaderName: str(),
    httpCookie: obj({ name: str(), path: str(), ttl: dur(), attributes: list(obj({ name: str(), value: str() }, { required: ['name'] })) }, { required: ['name'] }),
    useSourceIp: bool(), httpQueryParameterName: str(),
    ringHash: obj({ minimumRingSize: int(0) }), maglev: obj({ tableSize: int(0) }),
    minimumRingSize: deprecated(int(0), 'consistentHash.minimumRingSize is deprecated; use ringHash.minimumRingSize'),
  }, {
    check: (v, path, ctx) => {
      const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].filter((k) => v[k] !== undefined && v[k] !== null);
      if (keys.length !== 1) ctx.error(path, 'WEFT-ONEOF', `consistentHash needs exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName${keys.length ? `, not ${keys.join(' and ')}` : ''}`);
      if (v.ringHash !== undefined && v.maglev !== undefined) ctx.error(path, 'WEFT-ONEOF', 'consistentHash cannot have both ringHash and maglev');
    },
  }),
  localityLbSetting: localityLbSetting(),
  zoneAwareLbSetting: map(any()), warmupDurationSecs: dur(MS), warmup: obj({ duration: dur(MS), minimumPercent: num(0, 100), aggression: num(1) }),
}, {
  check: (v, path, ctx) => {
    if (v.simple !== undefined && v.consistentHash !== undefined) ctx.error(path, 'WEFT-ONEOF', 'loadBalancer cannot have both simple and consistentHash');
  },
});

const connectionPool = (): Schema => obj({
  tcp: obj({
    maxConnections: int(0), connectTimeout: dur(MS), tcpKeepalive: obj({ probes: int(0), time: dur(MS), interval: dur(MS) }),
    maxConnectionDuration: dur(MS), idleTimeout: dur(MS),
  }),
  http: obj({
    http1MaxPendingRequests: int(0), http2MaxRequests: int(0), maxRequestsPerConnection: int(0), maxRetries: int(0),
    idleTimeout: dur(MS), h2UpgradePolicy: enm(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']), useClientProtocol: bool(),
    maxConcurrentStreams: int(0),
  }),
});

const outlierDetection = (): Schema => obj({
  splitExternalLocalOriginErrors: bool(), consecutiveLocalOriginFailures: int(0), consecutiveGatewayErrors: int(0),
  consecutive5xxErrors: int(0),
  consecutiveErrors: deprecated(int(0), 'outlierDetection.consecutiveErrors is deprecated; use consecutive5xxErrors'),
  interval: dur(MS), baseEjectionTime: dur(MS), maxEjectionPercent: int(0, 100), minHealthPercent: int(0, 100),
});

const clientTls = (): Schema => obj({
  mode: enm(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']), clientCertificate: str(), privateKey: str(), caCertificates: str(),
  credentialName: str(), subjectAltNames: strList(), sni: str(), insecureSkipVerify: bool(), caCrl: str(),
}, {
  check: (v, path, ctx) => {
    if (v.mode === 'MUTUAL' && v.credentialName === undefined && (v.clientCertificate === undefined || v.privateKey === undefined)) {
      ctx.error(path, 'WEFT-TLS', 'MUTUAL TLS needs credentialName, or clientCertificate and privateKey');
    }
  },
});

const policyFields = (): Record<string, Schema> => ({
  loadBalancer: loadBalancer(), connectionPool: connectionPool(), outlierDetection: outlierDetection(), tls: clientTls(),
  tunnel: obj({ protocol: enm(['CONNECT', 'POST']), targetHost: str(), targetPort: port() }, { required: ['targetHost', 'targetPort'] }),
  proxyProtocol: obj({ version: enm(['V1', 'V2']) }),
  retryBudget: obj({ percent: percent(), minRetryConcurrency: int(0) }),
});
const trafficPolicy = (): Schema => obj({
  ...policyFields(),
  portLevelSettings: list(obj({ port: portSelector(), ...policyFields() }, { required: ['port'] })),
});

export const destinationRule: Schema = obj({
  host: str({ check: host }), trafficPolicy: trafficPolicy(),
  subsets: list(obj({ name: str({ check: dnsLabel }), labels: labels(), trafficPolicy: trafficPolicy() }, { required: ['name'] }), {
    check: (v, path, ctx) => uniqueBy(v, 'name', path, ctx, 'subset name'),
  }),
  exportTo: exportTo(), workloadSelector: obj({ matchLabels: labels() }),
}, { required: ['host'] });

// ---- Gateway and shared Port

const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP', 'REDIS', 'MYSQL', 'THRIFT', 'HBONE'];
const protocol = (): Schema => withCheck<string>(str(), (v, path, ctx) => {
  if (!PROTOCOLS.includes(v.toUpperCase())) ctx.error(path, 'WEFT-ENUM', `unknown protocol "${v}": must be one of ${PROTOCOLS.join(', ')}${didYouMean(v, PROTOCOLS)}`);
});
export const servicePort = (): Schema => obj({ number: port(), protocol: protocol(), name: str(), targetPort: port() }, { required: ['number', 'name'] });

const serverTls = (): Schema => obj({
  httpsRedirect: bool(),
  mode: enm(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']),
  serverCertificate: str(), privateKey: str(), caCertificates: str(), caCrl: str(), credentialName: str(), credentialNames: strList(),
  caCertCredentialName: str(), subjectAltNames: strList(), verifyCertificateSpki: strList(), verifyCertificateHash: strList(),
  minProtocolVersion: enm(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']),
  maxProtocolVersion: enm(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']), cipherSuites: strList(),
  tlsCertificates: list(obj({ serverCertificate: str(), privateKey: str(), caCertificates: str() })),
}, {
  check: (v, path, ctx) => {
    const m = v.mode as string | undefined;
    if ((m === 'SIMPLE' || m === 'MUTUAL' || m === 'OPTIONAL_MUTUAL') && v.credentialName === undefined && v.credentialNames === undefined
      && v.tlsCertificates === undefined && (v.serverCertificate === undefined || v.privateKey === undefined)) {
      ctx.error(path, 'WEFT-TLS', `${m} TLS needs credentialName, or serverCertificate and privateKey`);
    }
  },
});

const server = (): Schema => obj({
  port: obj({ number: port(), protocol: protocol(), name: str(), targetPort: port() }, { required: ['number', 'protocol'] }),
  bind: str(), hosts: list(str({ check: nsHost }), { minItems: 1 }), tls: serverTls(), name: str(),
}, {
  required: ['port', 'hosts'],
  check: (v, path, ctx) => {
    const proto = String(isObj(v.port) ? v.port.protocol : '').toUpperCase();
    const tls = isObj(v.tls) ? v.tls : undefined;
    if ((proto === 'HTTPS' || proto === 'TLS') && (v.tls === undefined || v.tls === null)) ctx.error([...path, 'tls'], 'WEFT-TLS', `a ${proto} server needs tls settings`, 'value', path);
    if (tls !== undefined && tls.mode !== undefined && (proto === 'HTTP' || proto === 'TCP')) {
      ctx.error([...path, 'tls', 'mode'], 'WEFT-TLS', `tls.mode is not allowed on a plain ${proto} server (only httpsRedirect)`);
    }
  },
});

export const gateway: Schema = obj({
  servers: list(server(), {
    minItems: 1,
    check: (v, path, ctx) => {
      const seen = new Map<unknown, number>();
      v.forEach((s, i) => {
        const name = isObj(s) && isObj(s.port) ? s.port.name : undefined;
        if (typeof name !== 'string') return;
        const first = seen.get(name);
        if (first === undefined) seen.set(name, i);
        else ctx.error([...path, i, 'port', 'name'], 'WEFT-DUPLICATE', `duplicate server port name "${name}" (also at servers[${first}])`);
      });
    },
  }),
  selector: labels(),
}, { required: ['servers'] });

// ---- ServiceEntry, WorkloadEntry, WorkloadGroup

const workloadEntryFields = (): Record<string, Schema> => ({
  address: str(), ports: map(port()), labels: labels(), network: str(), locality: str(), weight: int(0), serviceAccount: str(),
});
export const workloadEntry: Schema = obj(workloadEntryFields());
export const workloadGroup: Schema = obj({
  metadata: obj({ labels: labels(), annotations: annotations() }), template: obj(workloadEntryFields()), probe: any(),
}, { required: ['template'] });

export const serviceEntry: Schema = obj({
  hosts: list(str({ check: host }), { minItems: 1 }), addresses: list(str({ check: cidr })),
  ports: list(servicePort(), { check: (v, path, ctx) => { uniqueBy(v, 'name', path, ctx, 'port name'); uniqueBy(v, 'number', path, ctx, 'port number'); } }),
  location: enm(['MESH_EXTERNAL', 'MESH_INTERNAL']),
  resolution: enm(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']),
  endpoints: list(obj(workloadEntryFields())), workloadSelector: obj({ labels: labels() }), exportTo: exportTo(), subjectAltNames: strList(),
}, { required: ['hosts'], check: checkServiceEntry });

function checkServiceEntry(v: Obj, path: PathSeg[], ctx: Ctx): void {
  if (v.endpoints !== undefined && v.workloadSelector !== undefined) ctx.error(path, 'WEFT-ONEOF', 'ServiceEntry cannot have both endpoints and workloadSelector');
  const hosts = Array.isArray(v.hosts) ? v.hosts : [];
  if ((v.resolution === 'DNS' || v.resolution === 'DNS_ROUND_ROBIN') && v.endpoints === undefined) {
    hosts.forEach((h, i) => {
      if (typeof h === 'string' && h.startsWith('*')) ctx.error([...path, 'hosts', i], 'WEFT-HOST', `wildcard host "${h}" cannot be resolved with ${String(v.resolution)} resolution (use NONE or list endpoints)`);
    });
  }
}

// ---- Sidecar

const captureMode = (): Schema => enm(['DEFAULT', 'IPTABLES', 'NONE']);
export const sidecar: Schema = obj({
  workloadSelector: obj({ labels: labels() }),
  ingress: list(obj({
    port: servicePort(), bind: str(), captureMode: captureMode(), defaultEndpoint: str(), tls: serverTls(), connectionPool: connectionPool(),
  }, { required: ['port'] })),
  egress: list(obj({ port: servicePort(), bind: str(), captureMode: captureMode(), hosts: list(str({ check: nsHost }), { minItems: 1 }) }, { required: ['hosts'] })),
  outboundTrafficPolicy: obj({ mode: enm(['REGISTRY_ONLY', 'ALLOW_ANY']), egressProxy: destination() }),
  inboundConnectionPool: connectionPool(),
});

// ---- EnvoyFilter (v1alpha3): the patch value is raw Envoy config, checked only structurally.

const APPLY_TO = ['INVALID', 'LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST',
  'HTTP_ROUTE', 'CLUSTER', 'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER'];
const OPERATIONS = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE', 'MERGE_AND_REPLACE_LIST'];
export const envoyFilter: Schema = obj({
  workloadSelector: obj({ labels: labels() }), targetRefs: list(map(any())), priority: int(),
  configPatches: list(obj({
    applyTo: enm(APPLY_TO),
    match: obj({
      context: enm(['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT']),
      proxy: obj({ proxyVersion: str({ check: regex }), metadata: map(str()) }),
      listener: map(any()), routeConfiguration: map(any()), cluster: map(any()),
    }),
    patch: obj({ operation: enm(OPERATIONS), value: map(any()), filterClass: enm(['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS']) }),
  }, {
    check: (v, path, ctx) => {
      const m = isObj(v.match) ? v.match : undefined;
      if (m) {
        const set = ['listener', 'routeConfiguration', 'cluster'].filter((k) => m[k] !== undefined);
        if (set.length > 1) ctx.error([...path, 'match'], 'WEFT-ONEOF', `match can have only one of listener, routeConfiguration, cluster, not ${set.join(' and ')}`);
      }
    },
  })),
});
