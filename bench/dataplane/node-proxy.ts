// A reference Node.js reverse proxy run as its own process, so it can be pinned and measured like
// nginx or HAProxy. Usage: node node-proxy.js <http-proxy|fastify> <listenPort> <targetHost:port>
// The npm packages are loaded by name at run time (they are devDependencies without type packages).
import http from 'node:http';

interface HttpProxyServer {
  web(req: http.IncomingMessage, res: http.ServerResponse, opts: object, cb: (err: Error) => void): void;
}
interface HttpProxyModule { createProxyServer(opts: object): HttpProxyServer }
interface FastifyApp {
  register(plugin: unknown, opts: object): unknown;
  listen(opts: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
}
type FastifyFactory = (opts: object) => FastifyApp;

async function load<T>(name: string): Promise<T> {
  const mod = (await import(name)) as { default?: T };
  return (mod.default ?? mod) as T;
}

async function startHttpProxy(port: number, target: string): Promise<() => Promise<void>> {
  const httpProxy = await load<HttpProxyModule>('http-proxy');
  // Without a keep-alive agent node-http-proxy opens a new upstream connection per request,
  // which is what makes it look 20x slower in some published benchmarks.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ target: `http://${target}`, agent });
  const server = http.createServer((req, res) => {
    proxy.web(req, res, {}, (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${err.message}\n`);
    });
  });
  server.keepAliveTimeout = 300_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
}

async function startFastify(port: number, target: string): Promise<() => Promise<void>> {
  const fastify = await load<FastifyFactory>('fastify');
  const proxyPlugin = await load<unknown>('@fastify/http-proxy');
  const app = fastify({ logger: false, keepAliveTimeout: 300_000 });
  // @fastify/http-proxy forwards through @fastify/reply-from, which uses an undici pool by default.
  app.register(proxyPlugin, { upstream: `http://${target}` });
  await app.listen({ port, host: '127.0.0.1' });
  return () => app.close();
}

async function main(): Promise<void> {
  const [kind, portText, target] = process.argv.slice(2);
  const port = Number(portText);
  if ((kind !== 'http-proxy' && kind !== 'fastify') || !Number.isInteger(port) || !/^[\d.]+:\d+$/.test(target ?? '')) {
    process.stderr.write('usage: node-proxy.js <http-proxy|fastify> <listenPort> <targetHost:port>\n');
    process.exitCode = 2;
    return;
  }
  const stop = await (kind === 'http-proxy' ? startHttpProxy(port, target) : startFastify(port, target));
  process.stdout.write(`${kind} listening on 127.0.0.1:${port} -> ${target}\n`);
  const shutdown = (): void => { void stop().finally(() => process.exit(0)); };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((e: unknown) => {
  process.stderr.write(`node-proxy: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
