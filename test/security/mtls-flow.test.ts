// Backpressure over mTLS between two real sidecars (`weft run`): a reader that stops reading holds
// the whole chain back instead of the sidecars buffering the body. A paused download (the client
// sidecar reads its TLS upstream through `onread`) and a paused upload (the server sidecar reads its
// inbound TLS socket through the shared read buffer, src/proxy/tls/shared-read.ts); both bodies
// arrive whole and unchanged once reading resumes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { TestMesh } from '../helpers/mesh.js';
import { pollUntil, send } from '../e2e/helpers.js';

const BIG = 48 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** More than every socket and kernel buffer on the way can hold: a body beyond this was read by someone not reading. */
const HELD_BOUND = BIG / 2;

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: bulk, namespace: default }
spec:
  selector: { app: bulk }
  ports: [{ name: http, port: 8000, targetPort: 8000 }]
`;

// The app: /download streams BIG bytes (honouring res.write's backpressure; /progress says how far
// it got), /upload reads nothing until /release, then answers with the body's length and hash.
const APP = `
const http = require('http'), crypto = require('crypto');
const BIG = ${BIG}, CHUNK = ${CHUNK};
let progress = 0, held = null;
http.createServer((req, res) => {
  if (req.url === '/progress') return res.end(String(progress));
  if (req.url === '/download') {
    let sent = 0; progress = 0;
    res.writeHead(200, { 'content-length': BIG });
    const pump = () => {
      while (sent < BIG) {
        const n = Math.min(CHUNK, BIG - sent);
        const c = Buffer.alloc(n, (sent / CHUNK) % 251);
        sent += n; progress = sent;
        if (!res.write(c)) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (req.url === '/upload') { req.pause(); held = { req, res }; return; }
  if (req.url === '/release' && held) {
    const h = held; held = null;
    const hash = crypto.createHash('sha256'); let n = 0;
    h.req.on('data', (c) => { hash.update(c); n += c.length; });
    h.req.on('end', () => h.res.end(JSON.stringify({ n, sha: hash.digest('hex'), xfcc: h.req.headers['x-forwarded-client-cert'] || '' })));
    h.req.resume();
    return res.end('released');
  }
  res.statusCode = 404; res.end();
}).listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
`;

function expectedSha(): string {
  const h = createHash('sha256');
  for (let sent = 0; sent < BIG; sent += CHUNK) h.update(Buffer.alloc(Math.min(CHUNK, BIG - sent), (sent / CHUNK) % 251));
  return h.digest('hex');
}

let mesh: TestMesh;
let clientAddr = '';

before(async () => {
  mesh = await TestMesh.start();
  await mesh.apply(SERVICE);
  const [, client] = await Promise.all([
    mesh.run(['--service', 'bulk', '--port', '8000:http', '--version', 'v1', '--name', 'bulk-v1', '--service-account', 'bulk'], [process.execPath, '-e', APP]),
    mesh.runClient('sleep'),
  ]);
  clientAddr = (await client.workload()).address;
  await pollUntil('bulk through the client sidecar', async () => (await get('/progress')).status === 200, 15_000);
});
after(async () => { await mesh?.stop(); });

const get = (path: string) => send({ host: clientAddr, port: 15001, path: `http://bulk:8000${path}` });

/** Polls `value` until it is the same on two polls 300 ms apart (the chain has filled up and stopped). */
async function settled(what: string, value: () => Promise<number>): Promise<number> {
  let last = -1;
  let result = -1;
  await pollUntil(what, async () => {
    const v = await value();
    await new Promise((r) => setTimeout(r, 300));
    const again = await value();
    const still = v === again && v === last && v > 0;
    last = again;
    result = again;
    return still;
  }, 20_000);
  return result;
}

test('mTLS pair: a paused download holds the app back, then arrives whole', { timeout: 60_000 }, async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ host: clientAddr, port: 15001, path: 'http://bulk:8000/download', headers: { host: 'bulk:8000' }, agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.pause();
  const written = await settled('download stalled', async () => Number((await get('/progress')).body));
  assert.ok(written < HELD_BOUND, `the app wrote ${written} of ${BIG} bytes while nobody read`);
  const h = createHash('sha256');
  let n = 0;
  res.on('data', (c: Buffer) => { h.update(c); n += c.length; });
  await new Promise<void>((resolve, reject) => { res.on('end', resolve); res.on('error', reject); res.resume(); });
  assert.equal(n, BIG);
  assert.equal(h.digest('hex'), expectedSha());
});

test('mTLS pair: a paused upload holds the client back (the server sidecar stops reading its TLS socket), then arrives whole', { timeout: 60_000 }, async () => {
  let flushed = 0;
  let sent = 0;
  const req = http.request({ host: clientAddr, port: 15001, method: 'POST', path: 'http://bulk:8000/upload', headers: { host: 'bulk:8000', 'content-length': String(BIG) }, agent: false });
  const reply = new Promise<{ n: number; sha: string; xfcc: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(JSON.parse(body) as { n: number; sha: string; xfcc: string }));
    });
    req.on('error', reject);
  });
  const pump = (): void => {
    while (sent < BIG) {
      const n = Math.min(CHUNK, BIG - sent);
      const c = Buffer.alloc(n, (sent / CHUNK) % 251);
      sent += n;
      const ok = req.write(c, () => { flushed += n; });
      if (!ok) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
  const accepted = await settled('upload stalled', () => Promise.resolve(flushed));
  assert.ok(accepted < HELD_BOUND, `the sidecars took ${accepted} of ${BIG} bytes while the app read nothing`);
  assert.equal((await get('/release')).body, 'released');
  const r = await reply;
  assert.equal(r.n, BIG);
  assert.equal(r.sha, expectedSha());
  // It went over mutual TLS: the server sidecar saw the client's certificate.
  assert.match(r.xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bulk;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/\w+$/);
});
