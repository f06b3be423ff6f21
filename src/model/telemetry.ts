// Spec types of telemetry.istio.io.

export interface ProviderRef { name: string }
export interface MetricSelector { metric?: string; customMetric?: string; mode?: 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER' }
export interface MetricsOverrides {
  match?: MetricSelector;
  disabled?: boolean;
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}
export interface Metrics { providers?: ProviderRef[]; overrides?: MetricsOverrides[]; reportingInterval?: string }
export interface Tracing {
  match?: { mode?: string };
  providers?: ProviderRef[];
  customTags?: Record<string, unknown>;
  disableSpanReporting?: boolean;
  randomSamplingPercentage?: number;
  useRequestIdForTraceSampling?: boolean;
}
export interface AccessLogging {
  match?: { mode?: string };
  providers?: ProviderRef[];
  disabled?: boolean;
  filter?: { expression?: string };
}
export interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: Record<string, unknown>;
  tracing?: Tracing[];
  metrics?: Metrics[];
  accessLogging?: AccessLogging[];
}
