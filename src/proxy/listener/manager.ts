// The listener table (full-state LDS): binds, rebinds and drains sockets. An updated listener with
// the same address keeps its socket and connections; only new requests see the new config.
import net from 'node:net';
import type { ProxyEnv } from '../env.js';
import type { CompiledHcm, RouteTable } from '../hcm/config.js';
import { obj } from '../wire.js';
import { type CompiledListener, compileListener } from './compile.js';
import { ListenerDispatch, type OutboundTable, fallbackHcms } from './dispatch.js';

interface Bound {
  readonly key: string;
  readonly server: net.Server;
  readonly dispatch: ListenerDispatch;
  readonly sockets: Set<net.Socket>;
  state: 'binding' | 'listening' | 'failed' | 'closed';
  error?: string;
}

/** Listeners on the same address:port share a socket; port 0 (any free port) is per listener. */
function bindKey(l: CompiledListener): string {
  return l.port === 0 ? `${l.address}:0#${l.name}` : `${l.address}:${l.port}`;
}

export class ListenerManager implements OutboundTable {
  listeners = new Map<string, CompiledListener>();
  private byPort = new Map<number, CompiledListener>();
  private readonly bound = new Map<string, Bound>();
  private readonly fallback: { passthrough: CompiledHcm; none: CompiledHcm };
  private started = false;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly env: ProxyEnv,
    private readonly routes: RouteTable,
    private readonly drainMs: () => number,
  ) {
    this.fallback = fallbackHcms(routes, env);
  }

  portListener(port: number): CompiledListener | undefined {
    return this.byPort.get(port);
  }

  /** Validates and installs a full listener set; returns an error without changing anything. */
  update(resources: ReadonlyMap<string, object>): string | undefined {
    const next = new Map<string, CompiledListener>();
    const addrs = new Map<string, string>();
    try {
      for (const [name, r] of resources) {
        const l = compileListener(name, obj(r, `Listener ${name}`), { routes: this.routes, clusters: this.env.clusters, stats: this.env.stats }, `Listener ${name}`);
        if (l.bindToPort) {
          const key = bindKey(l);
          const other = addrs.get(key);
          if (other !== undefined) return `Listener ${name}: address ${key} is already used by listener ${other}`;
          addrs.set(key, name);
        }
        next.set(name, l);
      }
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    const byPort = new Map<number, CompiledListener>();
    for (const l of next.values()) if (!l.bindToPort && !byPort.has(l.port)) byPort.set(l.port, l);
    this.listeners = next;
    this.byPort = byPort;
    if (this.started) this.reconcile();
    return undefined;
  }

  /** Binds every listener; resolves when all binds settled (failures are recorded, not thrown). */
  async start(): Promise<void> {
    this.started = true;
    this.reconcile();
    await this.settled();
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** True when every listener that should be bound is listening. */
  allBound(): boolean {
    for (const l of this.listeners.values()) {
      if (!l.bindToPort) continue;
      const b = this.bound.get(bindKey(l));
      if (!b || b.state !== 'listening') return false;
    }
    return true;
  }

  /** RDS route configurations the current listeners use but have not received yet (Envoy's warming). */
  missingRoutes(): string[] {
    const out: string[] = [];
    for (const l of this.listeners.values()) {
      const c = l.chain;
      if (c?.kind === 'http' && c.hcm.routes.current === null) out.push(c.hcm.routes.name);
    }
    return out;
  }

  bindState(l: CompiledListener): { state: string; error?: string } {
    const b = this.bound.get(bindKey(l));
    return b ? { state: b.state, error: b.error } : { state: l.bindToPort ? 'unbound' : 'not bound (bind_to_port: false)' };
  }

  private reconcile(): void {
    const want = new Map<string, CompiledListener>();
    for (const l of this.listeners.values()) if (l.bindToPort) want.set(bindKey(l), l);
    for (const [key, b] of this.bound) {
      const l = want.get(key);
      if (l && b.state !== 'failed') b.dispatch.current = l;
      else {
        this.bound.delete(key);
        void this.drainBound(b, this.drainMs());
      }
    }
    for (const [key, l] of want) if (!this.bound.has(key)) this.bind(key, l);
  }

  private bind(key: string, l: CompiledListener): void {
    const dispatch = new ListenerDispatch(l, this.env, this, this.fallback);
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ noDelay: true }, (sock) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      dispatch.onConnection(sock);
    });
    const b: Bound = { key, server, dispatch, sockets, state: 'binding' };
    this.bound.set(key, b);
    const p = new Promise<void>((resolve) => {
      server.once('error', (err) => {
        b.state = 'failed';
        b.error = err.message;
        this.env.log.error(`listener ${l.name}: cannot bind ${key}: ${err.message}`);
        resolve();
      });
      server.listen({ host: l.address, port: l.port, backlog: 1024 }, () => {
        if (b.state === 'binding') b.state = 'listening';
        server.on('error', (err) => this.env.log.error(`listener ${l.name}: ${err.message}`));
        resolve();
      });
    });
    this.pending.add(p);
    void p.then(() => this.pending.delete(p));
  }

  /** The port actually bound for a listener (useful with port 0). */
  boundPort(name: string): number | undefined {
    const l = this.listeners.get(name);
    if (!l) return undefined;
    const addr = this.bound.get(bindKey(l))?.server.address();
    return addr && typeof addr === 'object' ? addr.port : undefined;
  }

  /** Stops accepting, lets in-flight requests finish up to timeoutMs, then closes what is left. */
  private drainBound(b: Bound, timeoutMs: number): Promise<void> {
    b.state = 'closed';
    b.server.close();
    b.dispatch.closeIdle();
    if (b.sockets.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        b.dispatch.closeIdle();
        if (b.sockets.size === 0) done();
      }, 50);
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearInterval(poll);
        clearTimeout(timer);
        for (const s of b.sockets) s.destroy();
        resolve();
      }
    });
  }

  /** Drains every bound listener (Envoy's drain: stop accepting, finish in-flight work). */
  async drain(timeoutMs: number): Promise<void> {
    this.env.draining = true;
    const all = [...this.bound.values()];
    this.bound.clear();
    this.started = false;
    await Promise.all(all.map((b) => this.drainBound(b, timeoutMs)));
  }
}
