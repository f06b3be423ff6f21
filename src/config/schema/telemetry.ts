// telemetry.istio.io schema: Telemetry.

import { labels } from './checks.js';
import { type Schema, bool, dur, enm, list, map, num, obj, str } from './dsl.js';

const MODE = enm(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']);
const providers = (): Schema => list(obj({ name: str() }, { required: ['name'] }));
const METRICS = ['ALL_METRICS', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES', 'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES'];
const targetRef = (): Schema => obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] });

const customTag = (): Schema => obj({
  literal: obj({ value: str() }, { required: ['value'] }),
  environment: obj({ name: str(), defaultValue: str() }, { required: ['name'] }),
  header: obj({ name: str(), defaultValue: str() }, { required: ['name'] }),
  formatter: obj({ value: str() }, { required: ['value'] }),
}, { oneOf: ['literal', 'environment', 'header', 'formatter'] });

export const telemetry: Schema = obj({
  selector: obj({ matchLabels: labels() }), targetRef: targetRef(), targetRefs: list(targetRef()),
  tracing: list(obj({
    match: obj({ mode: MODE }), providers: providers(), customTags: map(customTag()), disableSpanReporting: bool(),
    randomSamplingPercentage: num(0, 100), useRequestIdForTraceSampling: bool(), enableIstioTags: bool(), disableContextPropagation: bool(),
  })),
  metrics: list(obj({
    providers: providers(), reportingInterval: dur(1),
    overrides: list(obj({
      match: obj({ metric: enm(METRICS), customMetric: str(), mode: MODE }),
      disabled: bool(),
      tagOverrides: map(obj({ operation: enm(['UPSERT', 'REMOVE']), value: str() })),
    })),
  })),
  accessLogging: list(obj({ match: obj({ mode: MODE }), providers: providers(), disabled: bool(), filter: obj({ expression: str() }) })),
});
