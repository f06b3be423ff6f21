// Outlier detection (Envoy's consecutive_5xx, consecutive_gateway_failure and
// consecutive_local_origin_failure detectors). Consecutive failures eject a host at once (when
// enforced and under max_ejection_percent); a timer every `interval` returns hosts whose ejection
// time (base_ejection_time x times ejected, capped by max_ejection_time) is over.
import type { OutlierStats } from '../stats.js';
import type { Endpoint } from './endpoint.js';
import type { OutlierConfig } from './policy.js';

/** What one upstream attempt ended with, as outlier detection sees it. */
export const enum Outcome {
  /** A response (its status decides). */
  Response,
  /** Connect failure, connect timeout. */
  ConnectFailure,
  /** Reset or timeout after connecting. */
  LocalReset,
  Timeout,
}

export class OutlierDetector {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly cfg: OutlierConfig,
    private readonly stats: OutlierStats,
    private readonly endpoints: () => readonly Endpoint[],
    /** Called when the set of ejected hosts changed (the cluster rebuilds its picker). */
    private readonly changed: () => void,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.timer = setInterval(() => this.tick(), cfg.intervalMs);
    this.timer.unref();
  }

  /** Records one attempt's result for `ep`. Cheap on success (two stores). */
  report(ep: Endpoint, outcome: Outcome, status: number): void {
    const c = this.cfg;
    if (outcome === Outcome.Response) {
      if (c.splitLocal) ep.odLocal = 0;
      if (status < 500) {
        ep.od5xx = 0;
        ep.odGateway = 0;
        return;
      }
      this.external(ep, status);
      return;
    }
    if (c.splitLocal) {
      if (++ep.odLocal >= c.consecutiveLocal) {
        ep.odLocal = 0;
        this.stats.ejections_detected_consecutive_local_origin_failure++;
        this.eject(ep, c.enforcingLocal, 'local');
      }
      return;
    }
    // Not split: local-origin errors count as the 503 (504 for timeouts) the caller sees.
    this.external(ep, outcome === Outcome.Timeout ? 504 : 503);
  }

  private external(ep: Endpoint, status: number): void {
    const c = this.cfg;
    const gateway = status === 502 || status === 503 || status === 504;
    if (gateway) {
      if (++ep.odGateway >= c.consecutiveGateway) {
        ep.odGateway = 0;
        this.stats.ejections_detected_consecutive_gateway_failure++;
        if (this.eject(ep, c.enforcingGateway, 'gateway')) {
          ep.od5xx = 0;
          return;
        }
      }
    } else ep.odGateway = 0;
    if (++ep.od5xx >= c.consecutive5xx) {
      ep.od5xx = 0;
      this.stats.ejections_detected_consecutive_5xx++;
      this.eject(ep, c.enforcing5xx, '5xx');
    }
  }

  private eject(ep: Endpoint, enforcing: number, kind: '5xx' | 'gateway' | 'local'): boolean {
    if (ep.ejected || enforcing <= 0 || Math.random() * 100 >= enforcing) return false;
    const st = this.stats;
    const all = this.endpoints();
    if (all.length === 0) return false;
    if ((st.ejections_active * 100) / all.length >= this.cfg.maxEjectionPercent) {
      st.ejections_overflow++;
      return false;
    }
    ep.ejected = true;
    ep.ejectionCount++;
    ep.ejectedAt = this.clock();
    st.ejections_active++;
    st.ejections_total++;
    st.ejections_enforced_total++;
    if (kind === '5xx') {
      st.ejections_consecutive_5xx++;
      st.ejections_enforced_consecutive_5xx++;
    } else if (kind === 'gateway') st.ejections_enforced_consecutive_gateway_failure++;
    else st.ejections_enforced_consecutive_local_origin_failure++;
    this.changed();
    return true;
  }

  /** Returns hosts whose ejection is over; lowers the multiplier of hosts that stayed healthy. */
  tick(): void {
    const now = this.clock();
    const c = this.cfg;
    let changed = false;
    for (const ep of this.endpoints()) {
      if (ep.ejected) {
        const ms = Math.min(c.baseEjectionMs * ep.ejectionCount, Math.max(c.maxEjectionMs, c.baseEjectionMs));
        if (now - ep.ejectedAt >= ms) {
          ep.ejected = false;
          ep.od5xx = ep.odGateway = ep.odLocal = 0;
          this.stats.ejections_active--;
          changed = true;
        }
      } else if (ep.ejectionCount > 0 && now - ep.ejectedAt >= c.baseEjectionMs * ep.ejectionCount + c.intervalMs) {
        ep.ejectionCount--;
      }
    }
    if (changed) this.changed();
  }

  /** An endpoint left the cluster while ejected. */
  forget(ep: Endpoint): void {
    if (!ep.ejected) return;
    ep.ejected = false;
    this.stats.ejections_active--;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
