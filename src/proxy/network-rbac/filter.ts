// envoy.extensions.filters.network.rbac.v3.RBAC: connection-level authorization ahead of tcp_proxy.
// Decided once per connection (after the TLS handshake, so the peer identity is known); a denied
// connection is closed without a byte. Stats `<stat_prefix>rbac.allowed|denied` (Istio: tcp.rbac.*).
import type { Socket } from 'node:net';
import type { Logger } from '../env.js';
import type { StatsStore } from '../stats.js';
import { ConfigError, type Obj, isObj, str } from '../wire.js';
import { type RbacEngine, type RbacInput, compileRbac, evaluate } from '../filters/rbac/engine.js';
import { socketFacts } from '../filters/rbac/connection.js';

export const NETWORK_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';

export interface NetworkRbacDecision {
  readonly allowed: boolean;
  /** The matched policy, 'none' when no policy matched. */
  readonly policy: string;
}

export class NetworkRbac {
  constructor(
    readonly statPrefix: string,
    private readonly rules: RbacEngine | null,
    private readonly shadow: RbacEngine | null,
    private readonly shadowStatPrefix: string,
  ) {}

  /** Decides for a connection, counts it in `stats` and logs denials. */
  check(socket: Socket, stats: StatsStore, log: Logger): NetworkRbacDecision {
    const f = socketFacts(socket);
    const input: RbacInput = { ...f, remoteIp: f.directRemoteIp, metadata: () => undefined };
    const c = stats.group(`${this.statPrefix}rbac`);
    if (this.shadow) {
      const d = evaluate(this.shadow, input);
      if (this.shadow.action !== 'LOG') {
        const k = `${this.shadowStatPrefix}shadow_${d.allowed ? 'allowed' : 'denied'}`;
        c[k] = (c[k] ?? 0) + 1;
      }
    }
    if (!this.rules) return { allowed: true, policy: 'none' };
    const d = evaluate(this.rules, input);
    const policy = d.policyId || 'none';
    if (this.rules.action === 'LOG') {
      const k = d.policyId ? 'logged' : 'not_logged';
      c[k] = (c[k] ?? 0) + 1;
      return { allowed: true, policy };
    }
    const k = d.allowed ? 'allowed' : 'denied';
    c[k] = (c[k] ?? 0) + 1;
    if (!d.allowed) log.warn(`rbac: denied connection from ${f.peerPrincipal || f.directRemoteIp} to ${f.destinationIp}:${f.destinationPort}: ${this.rules.action} policy ${policy}`);
    return { allowed: d.allowed, policy };
  }
}

export function compileNetworkRbac(cfg: Obj, path: string): NetworkRbac {
  if (cfg.matcher !== undefined || cfg.shadow_matcher !== undefined) throw new ConfigError(`${path}.matcher`, 'the xDS matcher API form of RBAC is not supported; use rules');
  const statPrefix = str(cfg.stat_prefix, `${path}.stat_prefix`);
  if (!statPrefix) throw new ConfigError(`${path}.stat_prefix`, 'missing');
  const enforcement = str(cfg.enforcement_type, `${path}.enforcement_type`, 'ONE_TIME_ON_FIRST_BYTE');
  if (enforcement !== 'ONE_TIME_ON_FIRST_BYTE' && enforcement !== 'CONTINUOUS') throw new ConfigError(`${path}.enforcement_type`, `unknown ${enforcement}`);
  return new NetworkRbac(
    statPrefix,
    isObj(cfg.rules) ? compileRbac(cfg.rules, `${path}.rules`) : null,
    isObj(cfg.shadow_rules) ? compileRbac(cfg.shadow_rules, `${path}.shadow_rules`) : null,
    str(cfg.shadow_rules_stat_prefix, `${path}.shadow_rules_stat_prefix`),
  );
}
