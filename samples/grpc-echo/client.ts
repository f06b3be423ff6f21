// gRPC echo client:
//   node dist/samples/grpc-echo/client.js [--count N] [--message TEXT] [--metadata k=v ...] [--timeout MS] HOST:PORT
// Prints one JSON reply per line; exits 1 if any call failed. Honours HTTP_PROXY/NO_PROXY.
import { createEchoClient } from './echo-service.js';

function usage(msg: string): never {
  process.stderr.write(`grpc-echo client: ${msg}\nusage: client.js [--count N] [--message TEXT] [--metadata k=v] [--timeout MS] HOST:PORT\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let count = 1;
let message = 'hello';
let timeoutMs = 5000;
let target: string | undefined;
const metadata: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = (): string => (i + 1 < args.length ? args[++i] : usage(`${a} needs a value`));
  if (a === '--count') count = Number(next());
  else if (a === '--message') message = next();
  else if (a === '--timeout') timeoutMs = Number(next());
  else if (a === '--metadata') {
    const kv = next();
    const eq = kv.indexOf('=');
    if (eq <= 0) usage(`--metadata expects key=value, got ${JSON.stringify(kv)}`);
    metadata[kv.slice(0, eq).toLowerCase()] = kv.slice(eq + 1);
  } else if (a.startsWith('-')) usage(`unknown flag ${a}`);
  else target = a;
}
if (!target) usage('missing HOST:PORT');
if (!Number.isInteger(count) || count < 1) usage('--count must be a positive integer');
if (!(timeoutMs > 0)) usage('--timeout must be positive milliseconds');

let client;
try {
  client = createEchoClient(target);
} catch (e) {
  usage((e as Error).message);
}
let failures = 0;
for (let i = 0; i < count; i++) {
  try {
    process.stdout.write(`${JSON.stringify(await client.echo(message, metadata, timeoutMs))}\n`);
  } catch (e) {
    failures++;
    process.stdout.write(`error: ${(e as Error).message}\n`);
  }
}
client.close();
process.exit(failures > 0 ? 1 : 0);
