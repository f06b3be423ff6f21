// security.istio.io schemas: PeerAuthentication, RequestAuthentication, AuthorizationPolicy.

import type { PathSeg } from '../diagnostics.js';
import { cidr, labels } from './checks.js';
import { type Ctx, type Obj, type Schema, bool, dur, enm, isObj, list, map, obj, str, strList, withCheck } from './dsl.js';

const selector = (): Schema => obj({ matchLabels: labels() });
const targetRef = (): Schema => obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] });
const MTLS = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

export const peerAuthentication: Schema = obj({
  selector: selector(),
  mtls: obj({ mode: enm(MTLS) }),
  portLevelMtls: map(obj({ mode: enm(MTLS) }), {
    keyCheck: (k, path, ctx) => {
      if (!/^\d+$/.test(k) || Number(k) < 1 || Number(k) > 65535) ctx.error(path, 'WEFT-PORT', `portLevelMtls key "${k}" must be a port number 1..65535`, 'key');
    },
  }),
}, {
  check: (v, path, ctx) => {
    if (v.portLevelMtls !== undefined && v.selector === undefined) {
      ctx.error([...path, 'portLevelMtls'], 'WEFT-SELECTOR', 'portLevelMtls needs a workload selector (it cannot apply namespace- or mesh-wide)', 'key');
    }
  },
});

const jwtRule = (): Schema => obj({
  issuer: str(), audiences: strList(), jwksUri: str(), jwks: str(),
  fromHeaders: list(obj({ name: str(), prefix: str() }, { required: ['name'] })), fromParams: strList(), fromCookies: strList(),
  outputPayloadToHeader: str(), forwardOriginalToken: bool(),
  outputClaimToHeaders: list(obj({ header: str(), claim: str() }, { required: ['header', 'claim'] })),
  timeout: dur(1), spaceDelimitedClaims: strList(),
}, {
  required: ['issuer'],
  check: (v, path, ctx) => {
    if (v.issuer === '') ctx.error([...path, 'issuer'], 'WEFT-REQUIRED', 'issuer must not be empty');
    if (v.jwks !== undefined && v.jwksUri !== undefined) ctx.error(path, 'WEFT-ONEOF', 'set either jwks or jwksUri, not both');
    if (typeof v.jwksUri === 'string' && !/^https?:\/\/[^\s/]+/.test(v.jwksUri)) {
      ctx.error([...path, 'jwksUri'], 'WEFT-URI', `invalid jwksUri "${v.jwksUri}": must be an http:// or https:// URL`);
    }
    if (typeof v.jwks === 'string') {
      try {
        const parsed: unknown = JSON.parse(v.jwks);
        if (!isObj(parsed) || !Array.isArray(parsed.keys)) throw new Error('no "keys" list');
      } catch (e) {
        ctx.error([...path, 'jwks'], 'WEFT-JWKS', `invalid jwks: must be a JSON Web Key Set (${(e as Error).message})`);
      }
    }
  },
});

export const requestAuthentication: Schema = obj({
  selector: selector(), targetRef: targetRef(), targetRefs: list(targetRef()), jwtRules: list(jwtRule()),
});

const cidrs = (): Schema => list(str({ check: cidr }));
const sourceFields: Record<string, Schema> = {};
for (const f of ['principals', 'requestPrincipals', 'namespaces', 'serviceAccounts', 'trustDomains']) {
  sourceFields[f] = strList();
  sourceFields[`not${f[0].toUpperCase()}${f.slice(1)}`] = strList();
}
for (const f of ['ipBlocks', 'remoteIpBlocks']) {
  sourceFields[f] = cidrs();
  sourceFields[`not${f[0].toUpperCase()}${f.slice(1)}`] = cidrs();
}
const portStr = withCheck<string>(str(), (v, path, ctx) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) ctx.error(path, 'WEFT-PORT', `invalid port "${v}": must be a number 1..65535 (as a string)`);
});
const operationFields = (): Record<string, Schema> => ({
  hosts: strList(), notHosts: strList(), ports: list(portStr), notPorts: list(portStr),
  methods: strList(), notMethods: strList(), paths: strList(), notPaths: strList(),
});

const CONDITION_KEYS = ['source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'source.serviceAccount',
  'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'destination.ip', 'destination.port', 'connection.sni'];
const CONDITION_PREFIXES = ['request.headers[', 'request.auth.claims[', 'experimental.envoy.filters.'];
const condition = (): Schema => obj({
  key: withCheck<string>(str(), (v, path, ctx) => {
    if (CONDITION_KEYS.includes(v)) return;
    if (CONDITION_PREFIXES.some((p) => v.startsWith(p)) && (v.startsWith('experimental.') || v.endsWith(']'))) return;
    ctx.error(path, 'WEFT-CONDITION', `unknown condition key "${v}": use one of ${CONDITION_KEYS.join(', ')}, request.headers[NAME], request.auth.claims[NAME]`);
  }),
  values: strList(), notValues: strList(),
}, {
  required: ['key'],
  check: (v, path, ctx) => {
    if (v.values === undefined && v.notValues === undefined) ctx.error(path, 'WEFT-REQUIRED', 'condition needs values or notValues');
  },
});

function notEmpty(what: string) {
  return (v: Obj, path: PathSeg[], ctx: Ctx): void => {
    if (Object.keys(v).length === 0) ctx.error(path, 'WEFT-REQUIRED', `${what} must not be empty`);
  };
}
const rule = (): Schema => obj({
  from: list(obj({ source: obj(sourceFields, { check: notEmpty('from.source') }) }, { required: ['source'] })),
  to: list(obj({ operation: obj(operationFields(), { check: notEmpty('to.operation') }) }, { required: ['operation'] })),
  when: list(condition()),
});

export const authorizationPolicy: Schema = obj({
  selector: selector(), targetRef: targetRef(), targetRefs: list(targetRef()), rules: list(rule()),
  action: enm(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']),
  provider: obj({ name: str() }, { required: ['name'] }),
}, { check: checkAuthz });

function checkAuthz(v: Obj, path: PathSeg[], ctx: Ctx): void {
  if (v.action === 'CUSTOM' && v.provider === undefined) ctx.error([...path, 'provider'], 'WEFT-PROVIDER', 'action CUSTOM needs provider.name (an extension provider from the mesh config)', 'value', path);
  if (v.provider !== undefined && v.action !== 'CUSTOM') ctx.error([...path, 'provider'], 'WEFT-PROVIDER', 'provider is only allowed with action CUSTOM', 'key');
  if (v.selector !== undefined && (v.targetRef !== undefined || v.targetRefs !== undefined)) ctx.error(path, 'WEFT-ONEOF', 'use either selector or targetRef(s), not both');
}
