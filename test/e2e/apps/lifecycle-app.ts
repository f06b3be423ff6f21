// A workload for the lifecycle tests: GET /hello answers its name, GET /slow?ms=N answers after N ms.
// It prints its pid, the pid of a grandchild it starts (SPAWN_CHILD=1: a process `weft run` never
// sees), and the time it receives SIGTERM/SIGINT; then it stops listening, lets in-flight requests
// finish and exits with EXIT_CODE (default 0).
import http from 'node:http';
import { spawn } from 'node:child_process';

const name = process.env.WEFT_WORKLOAD_NAME ?? 'app';
const port = Number(process.env.PORT);
process.stdout.write(`app pid ${process.pid}\n`);
if (process.env.SPAWN_CHILD === '1') {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  process.stdout.write(`grandchild pid ${child.pid}\n`);
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const reply = () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`instance: ${name}\n`); };
  if (url.pathname === '/slow') {
    process.stdout.write('slow request\n');
    setTimeout(reply, Number(url.searchParams.get('ms') ?? 1000));
  }
  else reply();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    process.stdout.write(`got ${sig} at ${Date.now()}\n`);
    server.close(() => process.exit(Number(process.env.EXIT_CODE ?? 0)));
    server.closeIdleConnections();
  });
}
