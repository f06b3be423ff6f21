// A test backend for the resilience tests, run under `weft run`: answers "instance=<name>" with the
// status STATUS after DELAY_MS, closes idle keep-alive connections after KEEPALIVE_MS, counts the
// requests it saw (GET /__count, not counted; /__last: the last Host; /__status/<code> changes STATUS), and with RELAY_TO forwards each request there through
// its sidecar (HTTP_PROXY), like the seeds' nginx in front of tomcat.
import http from 'node:http';

const name = process.env.WEFT_WORKLOAD_NAME ?? `replica-${process.pid}`;
let status = Number(process.env.STATUS ?? 200);
let lastHost = '';
const delayMs = Number(process.env.DELAY_MS ?? 0);
const relay = process.env.RELAY_TO;
const proxy = process.env.HTTP_PROXY ? new URL(process.env.HTTP_PROXY) : undefined;
let count = 0;
const agent = new http.Agent({ keepAlive: true });

function forward(req: http.IncomingMessage, res: http.ServerResponse): void {
  const target = new URL(req.url ?? '/', relay);
  const up = http.request({
    host: proxy?.hostname ?? target.hostname, port: proxy ? Number(proxy.port) : Number(target.port || 80),
    path: proxy ? target.href : `${target.pathname}${target.search}`, method: req.method, agent,
    headers: { host: target.host, ...(req.headers['x-request-id'] ? { 'x-request-id': req.headers['x-request-id'] } : {}) },
  }, (ures) => {
    res.writeHead(ures.statusCode ?? 502, { 'content-type': 'text/plain', 'x-relayed-by': name });
    ures.pipe(res);
  });
  up.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`relay error: ${e.message}\n`);
  });
  req.pipe(up);
}

const server = http.createServer((req, res) => {
  if (req.url === '/__count') {
    res.end(String(count));
    return;
  }
  if (req.url === '/__last') {
    res.end(lastHost);
    return;
  }
  const fail = /^\/__status\/(\d+)$/.exec(req.url ?? '');
  if (fail) {
    status = Number(fail[1]);
    res.end('ok');
    return;
  }
  count++;
  lastHost = req.headers.host ?? '';
  if (relay) {
    forward(req, res);
    return;
  }
  const reply = (): void => {
    req.resume();
    const body = `instance=${name} host=${req.headers.host ?? ''} path=${req.url ?? ''}\n`;
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (delayMs > 0) setTimeout(reply, delayMs);
  else reply();
});
if (process.env.KEEPALIVE_MS) server.keepAliveTimeout = Number(process.env.KEEPALIVE_MS);
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
