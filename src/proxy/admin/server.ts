// Envoy-style admin endpoints: /ready, /stats, /config_dump, /clusters, /server_info, /memory.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { memorySnapshot } from './memory.js';

/** What the admin server reads from the proxy. */
export interface AdminSource {
  ready(): boolean;
  serverInfo(): object;
  configDump(): object;
  statsList(): [string, number][];
  clustersText(): string;
}

export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly src: AdminSource) {
    this.server = http.createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(e instanceof Error ? e.message : String(e));
      }
    });
    this.server.on('clientError', (_e, socket) => socket.destroy());
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const text = (code: number, body: string): void => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=UTF-8' }).end(body);
    };
    const json = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
    };
    switch (url.pathname) {
      case '/ready':
        return this.src.ready() ? text(200, 'LIVE\n') : text(503, 'PRE_INITIALIZING\n');
      case '/server_info':
        return json(this.src.serverInfo());
      case '/config_dump':
        return json(this.src.configDump());
      case '/clusters':
        return text(200, this.src.clustersText());
      case '/memory':
        return json(memorySnapshot());
      case '/stats': {
        let list = this.src.statsList();
        const filter = url.searchParams.get('filter');
        if (filter) {
          let re: RegExp;
          try {
            re = new RegExp(filter);
          } catch {
            return text(400, `invalid filter regex ${filter}\n`);
          }
          list = list.filter(([n]) => re.test(n));
        }
        if (url.searchParams.get('format') === 'json') return json({ stats: list.map(([name, value]) => ({ name, value })) });
        return text(200, list.map(([n, v]) => `${n}: ${v}\n`).join(''));
      }
      case '/':
        return text(200, ['/ready', '/stats', '/stats?format=json', '/config_dump', '/clusters', '/server_info', '/memory'].join('\n') + '\n');
      default:
        return text(404, `no admin handler for ${url.pathname}\n`);
    }
  }
}
