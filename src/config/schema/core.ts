// core v1 schemas Weft understands: Service (the fields a mesh needs, plus the rest of Kubernetes' list) and Namespace.

import { dnsLabel, labels, port, uniqueBy } from './checks.js';
import { type Schema, any, bool, enm, int, intOrStr, list, obj, str, strList } from './dsl.js';

const servicePort = (): Schema => obj({
  name: str({ check: dnsLabel }), port: port(), targetPort: intOrStr({
    check: (v, path, ctx) => {
      if (typeof v === 'number' && (v < 1 || v > 65535)) ctx.error(path, 'WEFT-RANGE', `${v} is out of range (must be between 1 and 65535)`);
    },
  }),
  protocol: enm(['TCP', 'UDP', 'SCTP']), appProtocol: str(), nodePort: port(),
}, { required: ['port'] });

export const coreService: Schema = obj({
  ports: list(servicePort(), {
    check: (v, path, ctx) => {
      if (v.length > 1) {
        v.forEach((p, i) => {
          if ((p as { name?: unknown } | null)?.name === undefined) ctx.error([...path, i, 'name'], 'WEFT-REQUIRED', 'every port of a multi-port Service needs a name', 'value', [...path, i]);
        });
      }
      uniqueBy(v, 'name', path, ctx, 'port name');
    },
  }),
  selector: labels(), type: enm(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
  clusterIP: str(), clusterIPs: strList(), externalName: str(), externalIPs: strList(),
  sessionAffinity: enm(['None', 'ClientIP']), sessionAffinityConfig: any(),
  externalTrafficPolicy: enm(['Cluster', 'Local']), internalTrafficPolicy: enm(['Cluster', 'Local']),
  ipFamilies: strList(), ipFamilyPolicy: enm(['SingleStack', 'PreferDualStack', 'RequireDualStack']),
  loadBalancerIP: str(), loadBalancerSourceRanges: strList(), loadBalancerClass: str(), allocateLoadBalancerNodePorts: bool(),
  publishNotReadyAddresses: bool(), healthCheckNodePort: int(0), trafficDistribution: str(),
});

export const namespace: Schema = obj({ finalizers: strList() });
