// A small external authorizer like Istio's samples/extauthz (HTTP): allows a request carrying
// `x-ext-authz: allow`, denies everything else with 403. Prints `listening PORT` once bound, and
// answers GET /__count with how many checks it has served.
import http from 'node:http';

let checks = 0;
let last: { method?: string; url?: string; headers: http.IncomingHttpHeaders } = { headers: {} };
const server = http.createServer((req, res) => {
  if (req.url === '/__count') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ checks, last }));
    return;
  }
  checks++;
  last = { method: req.method, url: req.url, headers: req.headers };
  const received = `${req.method ?? ''} ${req.headers.host ?? ''}${req.url ?? ''}`;
  if (req.headers['x-ext-authz'] === 'allow') {
    res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-ext-authz-check-received': received, 'x-not-forwarded': 'secret' }).end();
  } else {
    res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'x-not-forwarded': 'secret', 'content-type': 'text/plain' })
      .end('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
  }
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`listening ${typeof a === 'object' && a ? a.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
