// Route configs assembled from RDS and VHDS, as Envoy does for a route config with `vhds`: the
// route config (RDS) carries everything but its virtual hosts, which come as VirtualHost resources
// named `<route config name>/<virtual host name>` over Delta xDS. The data plane gets the whole
// RouteConfiguration, exactly as RDS without VHDS would hand it (virtual host names without the
// prefix, in the order the server sent them), so nothing in src/proxy knows about VHDS.
import { namespaceOf } from '../xds/stream-base.js';

type Obj = Record<string, unknown>;

export class VhdsRoutes {
  /** Route configs as RDS sent them, by name. */
  private readonly configs = new Map<string, Obj>();
  /** Virtual hosts per route config name, by their name without the prefix (insertion order kept). */
  private readonly hosts = new Map<string, Map<string, Obj>>();
  /** Route config names whose virtual hosts the server has answered for since they were subscribed. */
  private readonly answered = new Set<string>();
  private subscribed = new Set<string>();

  /** The route config names the VHDS subscription asks for; forgets the others. */
  subscribe(names: readonly string[]): void {
    this.subscribed = new Set(names);
    for (const n of [...this.hosts.keys()]) if (!this.subscribed.has(n)) this.hosts.delete(n);
    for (const n of [...this.answered]) if (!this.subscribed.has(n)) this.answered.delete(n);
  }

  /**
   * An RDS update (changed route configs, and the removed names on Delta). Returns what to hand
   * the data plane: route configs without vhds as they are; with vhds, assembled once the server
   * has answered their VHDS subscription (until then they are held, as Envoy's init waits for VHDS).
   */
  onRoutes(changed: ReadonlyMap<string, Obj>, removed: readonly string[] = []): Map<string, Obj> {
    for (const n of removed) this.configs.delete(n);
    const out = new Map<string, Obj>();
    for (const [name, rc] of changed) {
      if (!rc.vhds) {
        this.configs.delete(name);
        out.set(name, rc);
        continue;
      }
      this.configs.set(name, rc);
      if (this.answered.has(name)) out.set(name, this.assemble(name, rc, this.hosts.get(name)));
    }
    return out;
  }

  /**
   * A VHDS update (changed virtual hosts by resource name, removed names). Nothing is kept until
   * `commit()`: the caller applies the result first and commits only if the data plane took it.
   */
  onVirtualHosts(changed: ReadonlyMap<string, Obj>, removed: readonly string[] = []): { routes: Map<string, Obj>; commit(): void } {
    const next = new Map<string, Map<string, Obj>>();
    const touched = (rcName: string): Map<string, Obj> => {
      let m = next.get(rcName);
      if (!m) next.set(rcName, (m = new Map(this.hosts.get(rcName))));
      return m;
    };
    for (const n of removed) {
      const rcName = namespaceOf(n);
      if (rcName) touched(rcName).delete(n.slice(rcName.length + 1));
    }
    for (const [n, vh] of changed) {
      const rcName = namespaceOf(n);
      if (!rcName) throw new Error(`virtual host "${n}" is not named <route config>/<host>`);
      if (!this.subscribed.has(rcName)) continue;
      const host = n.slice(rcName.length + 1);
      touched(rcName).set(host, { ...vh, name: host });
    }
    // Every subscribed route config counts as answered: the server answers a new subscription
    // even when it holds no virtual host (an empty response).
    const newlyAnswered = [...this.subscribed].filter((n) => !this.answered.has(n));
    const routes = new Map<string, Obj>();
    for (const rcName of new Set([...next.keys(), ...newlyAnswered])) {
      const rc = this.configs.get(rcName);
      if (rc) routes.set(rcName, this.assemble(rcName, rc, next.get(rcName) ?? this.hosts.get(rcName)));
    }
    return {
      routes,
      commit: () => {
        for (const [rcName, m] of next) this.hosts.set(rcName, m);
        for (const n of newlyAnswered) this.answered.add(n);
      },
    };
  }

  private assemble(name: string, rc: Obj, hosts: ReadonlyMap<string, Obj> | undefined): Obj {
    const { vhds: _vhds, virtual_hosts: inline, ...rest } = rc;
    return { ...rest, name, virtual_hosts: [...((inline as Obj[] | undefined) ?? []), ...(hosts?.values() ?? [])] };
  }
}
