// Repeated analysis of a config that changes a little at a time (every `weft apply`): the findings
// of each resource are kept between runs and only the resources a change can affect are checked
// again: the new and changed ones, and those that read a fact the change altered (a host's Service,
// ServiceEntry or subsets, a Gateway, a delegate VirtualService, a Secret). The output is exactly
// analyzeFull's for the same input, in the same order (analyze-incremental.test.ts checks it).
// A resource is recognised as unchanged by identity only when it is frozen (the store's are, deeply):
// an unfrozen one may have been mutated in place, so it is checked again on every run.
import type { Resource } from '../model/index.js';
import type { Diagnostic } from './diagnostics.js';
import {
  DOMAIN, analyzeFull, arr, checkGatewayCredentials, checkResource, fqdn, hostMatches, meshHostConflicts, meshHostsOf, nsOf, obj,
  type AnalysisFacts, type Obj,
} from './analyze.js';

interface Entry {
  r: Resource;
  /** Position in the current input (the order findings are reported in). */
  index: number;
  frozen: boolean;
  /**
   * Fact keys this resource contributes: `h:` host (Service, ServiceEntry), `w:` wildcard host,
   * `d:` a host's subsets (DestinationRule), `g:` Gateway, `v:` VirtualService, `s:` Secret.
   */
  provides: string[];
  /** Fact keys its checks read. */
  reads: string[];
  /** DestinationRule: its host's subset names. */
  subsets: string[];
  mesh: string[];
  diags: Diagnostic[];
}

const isWildcard = (p: string): boolean => p === '*' || p.startsWith('*');

function describe(r: Resource, index: number): Entry {
  const e: Entry = { r, index, frozen: Object.isFrozen(r), provides: [], reads: [], subsets: [], mesh: meshHostsOf(r), diags: [] };
  const spec = obj(r.spec);
  const ns = nsOf(r);
  const name = r.metadata.name;
  if (r.kind === 'Service') e.provides.push(`h:${name}.${ns}.${DOMAIN}`);
  else if (r.kind === 'ServiceEntry') {
    for (const h of arr(spec.hosts)) if (typeof h === 'string') {
      const p = fqdn(h, ns);
      e.provides.push(isWildcard(p) ? `w:${p}` : `h:${p}`);
    }
  } else if (r.kind === 'Secret') e.provides.push(`s:${ns}/${name}`);
  else if (r.kind === 'DestinationRule' && typeof spec.host === 'string') {
    const host = fqdn(spec.host, ns);
    e.provides.push(`d:${host}`);
    e.reads.push(`h:${host}`);
    for (const s of arr(spec.subsets)) if (typeof obj(s).name === 'string') e.subsets.push(obj(s).name as string);
  } else if (r.kind === 'Gateway') {
    e.provides.push(`g:${ns}/${name}`);
    for (const srv of arr(spec.servers)) {
      const cred = obj(obj(srv).tls).credentialName;
      if (typeof cred !== 'string' || cred === '') continue;
      for (const n of [ns, 'istio-system']) e.reads.push(`s:${n}/${cred}`, `s:${n}/${cred}-cacert`);
    }
  } else if (r.kind === 'VirtualService') {
    e.provides.push(`v:${ns}/${name}`);
    const gateway = (g: unknown): void => { if (typeof g === 'string' && g !== 'mesh') e.reads.push(`g:${g.includes('/') ? g : `${ns}/${g}`}`); };
    const dest = (d: unknown): void => { const host = obj(d).host; if (typeof host === 'string') e.reads.push(`h:${fqdn(host, ns)}`, `d:${fqdn(host, ns)}`); };
    arr(spec.gateways).forEach(gateway);
    for (const kind of ['http', 'tcp', 'tls'] as const) {
      for (const route of arr(spec[kind])) {
        const rt = obj(route);
        arr(rt.route).forEach((dst) => dest(obj(dst).destination));
        arr(rt.match).forEach((m) => arr(obj(m).gateways).forEach(gateway));
        if (rt.mirror !== undefined) dest(rt.mirror);
        arr(rt.mirrors).forEach((m) => dest(obj(m).destination));
        const del = obj(rt.delegate);
        if (typeof del.name === 'string') e.reads.push(`v:${typeof del.namespace === 'string' ? del.namespace : ns}/${del.name}`);
      }
    }
  }
  return e;
}

function bump<K>(m: Map<K, number>, k: K, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s?.delete(v) && s.size === 0) m.delete(k);
}

export class IncrementalAnalysis {
  private entries = new Map<Resource, Entry>();
  /** Counts of contributed facts (`h:`, `w:`, `g:`, `v:`); Secrets and subsets below. */
  private readonly facts = new Map<string, number>();
  private readonly secrets = new Map<string, Set<Entry>>();
  private readonly subsets = new Map<string, Map<string, number>>();
  private readonly readers = new Map<string, Set<Entry>>();
  private readonly meshHosts = new Map<string, Map<Entry, number>>();
  private readonly withFindings = new Set<Entry>();
  private readonly view: AnalysisFacts = {
    known: (h) => h.includes('*') || this.facts.has(`h:${h}`) || this.wildcardKnows(h),
    hasSubset: (h, s) => this.subsets.get(h)?.has(s) ?? false,
    hasGateway: (ref) => this.facts.has(`g:${ref}`),
    hasVirtualService: (ref) => this.facts.has(`v:${ref}`),
    secret: (ref) => this.secretData(ref),
  };
  private wildcards: string[] = [];

  /** Same result as analyzeFull(resources); cost proportional to what changed since the last run. */
  run(resources: readonly Resource[]): Diagnostic[] {
    const prev = this.entries;
    const next = new Map<Resource, Entry>();
    const added: Entry[] = [];
    let frozen = 0;
    for (let i = 0; i < resources.length; i++) {
      const r = resources[i];
      if (next.has(r)) return this.giveUp(resources); // the same object twice: not worth a special case
      const old = prev.get(r);
      if (old?.frozen) {
        old.index = i;
        next.set(r, old);
        frozen++;
        continue;
      }
      const e = describe(r, i);
      if (e.frozen) frozen++;
      added.push(e);
      next.set(r, e);
    }
    if (frozen < resources.length / 2) return this.giveUp(resources); // nothing to gain over a full run
    const touched = new Set<string>();
    const removed = [...prev.values()].filter((e) => next.get(e.r) !== e);
    for (const e of removed) this.unindex(e, touched);
    for (const e of added) this.index(e, touched);
    this.entries = next;
    const dirty = new Set<Entry>(added);
    for (const [ref, set] of this.secrets) if (set.size > 1) touched.add(`s:${ref}`); // duplicates: the last one counts
    for (const k of touched) {
      if (k.startsWith('w:')) {
        const pattern = k.slice(2);
        for (const [read, es] of this.readers) if (read.startsWith('h:') && hostMatches(pattern, read.slice(2))) for (const e of es) dirty.add(e);
      } else {
        for (const e of this.readers.get(k) ?? []) dirty.add(e);
      }
    }
    for (const e of dirty) {
      e.diags = e.r.kind === 'Gateway' ? checkGatewayCredentials(e.r, this.view) : checkResource(e.r, this.view);
      if (e.diags.length) this.withFindings.add(e);
      else this.withFindings.delete(e);
    }
    return this.assemble();
  }

  private giveUp(resources: readonly Resource[]): Diagnostic[] {
    this.reset();
    return analyzeFull(resources);
  }

  private reset(): void {
    this.entries = new Map();
    for (const m of [this.facts, this.secrets, this.subsets, this.readers, this.meshHosts]) m.clear();
    this.withFindings.clear();
    this.wildcards = [];
  }

  private assemble(): Diagnostic[] {
    const found = [...this.withFindings].sort((a, b) => a.index - b.index);
    const out: Diagnostic[] = [];
    for (const e of found) if (e.r.kind === 'Gateway') for (const d of e.diags) out.push({ ...d });
    for (const e of found) if (e.r.kind !== 'Gateway') for (const d of e.diags) out.push({ ...d });
    // IST0109: hosts in the order a full pass meets them (first declaring VirtualService, then its host order).
    const shared: { host: string; vss: Entry[]; at: number; pos: number }[] = [];
    for (const [host, vss] of this.meshHosts) {
      if (vss.size < 2) continue;
      const sorted = [...vss.keys()].sort((a, b) => a.index - b.index);
      shared.push({ host, vss: sorted, at: sorted[0].index, pos: sorted[0].mesh.indexOf(host) });
    }
    shared.sort((a, b) => a.at - b.at || a.pos - b.pos);
    for (const s of shared) out.push(...meshHostConflicts(s.host, s.vss.map((e) => e.r)));
    return out;
  }

  private index(e: Entry, touched: Set<string>): void {
    for (const k of e.provides) {
      touched.add(k);
      if (k.startsWith('s:')) addTo(this.secrets, k.slice(2), e);
      else bump(this.facts, k, 1);
      if (k.startsWith('w:') && !this.wildcards.includes(k.slice(2))) this.wildcards.push(k.slice(2));
    }
    if (e.r.kind === 'DestinationRule' && e.provides.length) {
      const host = e.provides[0].slice(2);
      let m = this.subsets.get(host);
      if (!m) this.subsets.set(host, (m = new Map()));
      for (const s of e.subsets) bump(m, s, 1);
    }
    for (const k of e.reads) addTo(this.readers, k, e);
    for (const h of e.mesh) {
      let m = this.meshHosts.get(h);
      if (!m) this.meshHosts.set(h, (m = new Map()));
      bump(m, e, 1);
    }
  }

  private unindex(e: Entry, touched: Set<string>): void {
    for (const k of e.provides) {
      touched.add(k);
      if (k.startsWith('s:')) removeFrom(this.secrets, k.slice(2), e);
      else bump(this.facts, k, -1);
      if (k.startsWith('w:') && !this.facts.has(k)) this.wildcards = this.wildcards.filter((p) => p !== k.slice(2));
    }
    if (e.r.kind === 'DestinationRule' && e.provides.length) {
      const host = e.provides[0].slice(2);
      const m = this.subsets.get(host);
      if (m) {
        for (const s of e.subsets) bump(m, s, -1);
        if (m.size === 0) this.subsets.delete(host);
      }
    }
    for (const k of e.reads) removeFrom(this.readers, k, e);
    for (const h of e.mesh) {
      const m = this.meshHosts.get(h);
      if (!m) continue;
      m.delete(e);
      if (m.size === 0) this.meshHosts.delete(h);
    }
    this.withFindings.delete(e);
  }

  private wildcardKnows(h: string): boolean {
    return this.wildcards.some((p) => hostMatches(p, h));
  }

  private secretData(ref: string): Obj | undefined {
    let last: Entry | undefined;
    for (const e of this.secrets.get(ref) ?? []) if (!last || e.index > last.index) last = e;
    return last && obj(obj(last.r.spec).data);
  }
}
