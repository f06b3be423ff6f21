// Envoy-named counters and gauges. Each is a plain object created once per cluster / HCM / listener
// at config time and kept across updates of the same name, so the hot path only does `x.field++`.

export class ClusterStats {
  upstream_rq_total = 0;
  upstream_rq_active = 0;
  upstream_rq_completed = 0;
  upstream_rq_1xx = 0;
  upstream_rq_2xx = 0;
  upstream_rq_3xx = 0;
  upstream_rq_4xx = 0;
  upstream_rq_5xx = 0;
  upstream_rq_retry = 0;
  upstream_rq_retry_success = 0;
  upstream_rq_retry_overflow = 0;
  upstream_rq_retry_backoff_exponential = 0;
  upstream_rq_retry_limit_exceeded = 0;
  upstream_rq_timeout = 0;
  upstream_rq_per_try_timeout = 0;
  upstream_rq_pending_total = 0;
  upstream_rq_pending_active = 0;
  upstream_rq_pending_overflow = 0;
  upstream_rq_pending_failure_eject = 0;
  upstream_rq_maintenance_mode = 0;
  upstream_cx_overflow = 0;
  upstream_cx_max_requests = 0;
  upstream_cx_idle_timeout = 0;
  upstream_cx_max_duration_reached = 0;
  lb_healthy_panic = 0;
  upstream_cx_total = 0;
  upstream_cx_active = 0;
  upstream_cx_connect_fail = 0;
  upstream_cx_destroy = 0;
  upstream_cx_none_healthy = 0;
  /** outlier_detection.* (flattened with the dot, as Envoy names them). */
  readonly outlier = new OutlierStats();
  /** upstream_rq_<code>, indexed by status code. */
  readonly byCode = new Float64Array(600);

  recordStatus(code: number): void {
    this.upstream_rq_completed++;
    if (code >= 100 && code < 600) this.byCode[code]++;
    if (code < 200) this.upstream_rq_1xx++;
    else if (code < 300) this.upstream_rq_2xx++;
    else if (code < 400) this.upstream_rq_3xx++;
    else if (code < 500) this.upstream_rq_4xx++;
    else this.upstream_rq_5xx++;
  }
}

export class OutlierStats {
  ejections_active = 0;
  ejections_total = 0;
  ejections_enforced_total = 0;
  ejections_overflow = 0;
  ejections_consecutive_5xx = 0;
  ejections_enforced_consecutive_5xx = 0;
  ejections_detected_consecutive_5xx = 0;
  ejections_enforced_consecutive_gateway_failure = 0;
  ejections_detected_consecutive_gateway_failure = 0;
  ejections_enforced_consecutive_local_origin_failure = 0;
  ejections_detected_consecutive_local_origin_failure = 0;
}

export class HcmStats {
  downstream_cx_total = 0;
  downstream_cx_active = 0;
  downstream_rq_total = 0;
  downstream_rq_active = 0;
  downstream_rq_1xx = 0;
  downstream_rq_2xx = 0;
  downstream_rq_3xx = 0;
  downstream_rq_4xx = 0;
  downstream_rq_5xx = 0;
  downstream_rq_http1_total = 0;
  downstream_rq_http2_total = 0;
  downstream_cx_protocol_error = 0;
  no_route = 0;
  no_cluster = 0;
  rq_direct_response = 0;
  rq_redirect = 0;

  recordStatus(code: number): void {
    if (code < 200) this.downstream_rq_1xx++;
    else if (code < 300) this.downstream_rq_2xx++;
    else if (code < 400) this.downstream_rq_3xx++;
    else if (code < 500) this.downstream_rq_4xx++;
    else this.downstream_rq_5xx++;
  }
}

export class ListenerStats {
  downstream_cx_total = 0;
  downstream_cx_active = 0;
  downstream_cx_destroy = 0;
  no_filter_chain_match = 0;
}

/** All stats of one proxy, by Envoy stat prefix. Objects are created on first use at config time. */
export class StatsStore {
  readonly clusters = new Map<string, ClusterStats>();
  readonly http = new Map<string, HcmStats>();
  readonly listeners = new Map<string, ListenerStats>();
  readonly server = { total_connections: 0, version: 0 };
  /** Filters' own counters by full stat prefix (e.g. `http.<prefix>.rbac` -> {allowed, denied}). */
  readonly groups = new Map<string, Record<string, number>>();

  cluster(name: string): ClusterStats {
    let s = this.clusters.get(name);
    if (!s) this.clusters.set(name, (s = new ClusterStats()));
    return s;
  }
  hcm(prefix: string): HcmStats {
    let s = this.http.get(prefix);
    if (!s) this.http.set(prefix, (s = new HcmStats()));
    return s;
  }
  listener(prefix: string): ListenerStats {
    let s = this.listeners.get(prefix);
    if (!s) this.listeners.set(prefix, (s = new ListenerStats()));
    return s;
  }

  /** A named counter group, created on first use and kept across config updates. */
  group(prefix: string): Record<string, number> {
    let s = this.groups.get(prefix);
    if (!s) this.groups.set(prefix, (s = {}));
    return s;
  }

  /** Flat `name -> value` in Envoy's naming, sorted. */
  flatten(): [string, number][] {
    const out: [string, number][] = [];
    const put = (prefix: string, o: object): void => {
      for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out.push([`${prefix}.${k}`, v]);
    };
    for (const [name, s] of this.clusters) {
      put(`cluster.${name}`, s);
      put(`cluster.${name}.outlier_detection`, s.outlier);
      for (let c = 100; c < 600; c++) if (s.byCode[c] > 0) out.push([`cluster.${name}.upstream_rq_${c}`, s.byCode[c]]);
    }
    for (const [name, s] of this.http) put(`http.${name}`, s);
    for (const [name, s] of this.listeners) put(`listener.${name}`, s);
    for (const [prefix, s] of this.groups) put(prefix, s);
    put('server', this.server);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}
