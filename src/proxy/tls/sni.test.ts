import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { NEED_MORE, SniTable, parseClientHelloSni, type SniChain } from './sni.js';
import type { FilterChain } from '../listener/compile.js';
import { silentLogger } from '../env.js';

/** The first bytes a real Node TLS client sends (its ClientHello) for this servername. */
async function clientHello(servername?: string): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
        s.destroy();
        resolve(buf);
      }
    });
  }));
  const c = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  srv.close();
  return hello;
}

void test('parseClientHelloSni reads the server_name of a real ClientHello, asks for more bytes, refuses non-TLS', async () => {
  const hello = await clientHello('Uk.BookInfo.com');
  assert.equal(parseClientHelloSni(hello), 'uk.bookinfo.com');
  assert.equal(parseClientHelloSni(hello.subarray(0, 3)), NEED_MORE);
  assert.equal(parseClientHelloSni(hello.subarray(0, hello.length - 1)), NEED_MORE);
  assert.equal(parseClientHelloSni(await clientHello()), '');
  assert.equal(parseClientHelloSni(Buffer.from('GET / HTTP/1.1\r\n\r\n')), null);
  const corrupt = Buffer.from(hello);
  corrupt[5] = 0x02; // not a ClientHello
  assert.equal(parseClientHelloSni(corrupt), null);
});

void test('SniTable.select: exact name, then the longest wildcard, then the chain without names', () => {
  const chain = (n: string): FilterChain => ({ kind: 'tcp', statPrefix: n, targets: [], total: 0 }) as unknown as FilterChain; // only its identity matters here
  const mk = (names: string[], n: string): SniChain => ({ serverNames: names, chain: chain(n), tls: null });
  const t = new SniTable([mk(['*.example.com'], 'wild'), mk(['*.a.example.com'], 'wilder'), mk(['x.a.example.com'], 'exact'), mk([], 'default')], null, silentLogger);
  const pick = (s: string): string | undefined => (t.select(s)?.chain as { statPrefix?: string } | undefined)?.statPrefix;
  assert.equal(pick('x.a.example.com'), 'exact');
  assert.equal(pick('y.a.example.com'), 'wilder');
  assert.equal(pick('b.example.com'), 'wild');
  assert.equal(pick('example.org'), 'default');
  assert.equal(pick(''), 'default');
  assert.equal(new SniTable([mk(['a.test'], 'a')], null, silentLogger).select('b.test'), undefined);
});
