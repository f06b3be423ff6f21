// The floor of any Node.js proxy: one upstream TCP connection per downstream connection, bytes copied
// both ways, no HTTP at all. Usage: node raw-forwarder.js <listenPort> <upstreamPort> (127.0.0.1).
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!(listenPort > 0) || !(upstreamPort > 0)) {
  process.stderr.write('usage: node raw-forwarder.js <listenPort> <upstreamPort>\n');
  process.exit(2);
}
net.createServer({ noDelay: true }, (down) => {
  const up = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
  down.on('data', (b: Buffer) => up.write(b));
  up.on('data', (b: Buffer) => down.write(b));
  down.on('error', () => up.destroy());
  up.on('error', () => down.destroy());
  down.on('close', () => up.destroy());
  up.on('close', () => down.destroy());
}).listen(listenPort, '127.0.0.1');
