/** One proxy's resources by name, per xDS type (Envoy v3 field names, packable with packAny). */
export interface XdsResources {
  listeners: Map<string, object>;
  routes: Map<string, object>;
  clusters: Map<string, object>;
  endpoints: Map<string, object>;
  /** SDS secrets served over ADS (gateway credentials, `kubernetes://NAME`): gateway proxies only. */
  secrets?: Map<string, object>;
}
