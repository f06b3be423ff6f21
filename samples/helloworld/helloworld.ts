// Istio's helloworld: GET /hello -> "Hello version: <SERVICE_VERSION>, instance: <HOSTNAME>".
// Start two copies with SERVICE_VERSION=v1 and v2 to demo version routing.
import os from 'node:os';
import { sendText, startApp } from '../lib/app-server.js';

const version = process.env.SERVICE_VERSION ?? 'v1';
const instance = process.env.WEFT_WORKLOAD_NAME ?? process.env.HOSTNAME ?? `${os.hostname()}-${process.pid}`;

await startApp({
  name: `helloworld-${version}`,
  handler: (req, res, url) => {
    if (url.pathname === '/hello' || url.pathname === '/') return sendText(res, 200, `Hello version: ${version}, instance: ${instance}\n`);
    if (url.pathname === '/health') return sendText(res, 200, 'ok\n');
    sendText(res, 404, 'Not Found\n');
  },
});
