// Resource names shared with the sidecar (see ARCHITECTURE.md, "Conventions"). Istio's forms.

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;
/** Istio's route name for a route with no VirtualService behind it. */
export const DEFAULT_ROUTE_NAME = 'default';

export function outboundClusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export interface ParsedClusterName { direction: 'outbound' | 'inbound'; port: number; subset: string; host: string }

/** Parses `outbound|9080|v1|reviews.default.svc.cluster.local`; undefined for other names. */
export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4) return undefined;
  const [direction, port, subset, host] = parts;
  if ((direction !== 'outbound' && direction !== 'inbound') || !/^\d+$/.test(port)) return undefined;
  return { direction, port: Number(port), subset, host };
}

export const outboundListenerName = (port: number): string => `0.0.0.0_${port}`;
export const inboundListenerName = (address: string, port: number): string => `${address}_${port}`;
/** Sidecar outbound RDS name: the port. */
export const sidecarRouteName = (port: number): string => String(port);
export const gatewayRouteName = (port: number): string => `http.${port}`;
export const virtualHostName = (host: string, port: number | string): string => `${host}:${port}`;
