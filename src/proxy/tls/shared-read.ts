// Inbound TLS sockets read their decrypted bytes into one shared buffer, as tls.connect's `onread`
// does for client sockets (Node honours `onread` only for a TLSSocket it creates without a socket,
// never for one wrapping an accepted connection). Without it, every TLS read allocates a native
// buffer and goes through Readable's push, 'data' and a maybeReadMore nextTick; with it, each read is
// copied into a small (pooled) Buffer and, when the socket is flowing with nothing buffered, emitted
// as 'data' directly, exactly what Readable's push would have emitted. Otherwise (paused, bytes
// buffered or unshifted, a pipe, an encoding) the copy goes through push as before, so pause(),
// resume(), unshift() and backpressure behave as on any socket: net.Socket's pause/resume stop and
// start the handle's reads for sockets that have a user buffer.
import net from 'node:net';

/** Shared by every inbound TLS socket: each read is copied out before its callback returns. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface Keys { buffer: symbol; callback: symbol; gen: symbol }

/** net.Socket's private `onread` keys, taken from a socket made with `onread` (undefined if Node changed them). */
function findKeys(): Keys | undefined {
  const opts: net.SocketConstructorOpts & { onread: net.OnReadOpts } = { onread: { buffer: Buffer.alloc(1), callback: () => true } };
  const probe = new net.Socket(opts);
  const by = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  const buffer = by.get('kBuffer');
  const callback = by.get('kBufferCb');
  const gen = by.get('kBufferGen');
  probe.destroy();
  return buffer && callback && gen ? { buffer, callback, gen } : undefined;
}

/** `WEFT_TLS_SHARED_READ=0` in a sidecar's environment turns this off (for comparisons). */
const KEYS = process.env.WEFT_TLS_SHARED_READ === '0' ? undefined : findKeys();

/** The Readable state fields the direct 'data' path checks (same meaning in Node 20, 22 and 24). */
interface ReadState { length: number; pipes: unknown[]; decoder: unknown; objectMode: boolean }

type Owned = net.Socket & { _handle?: { useUserBuffer?: (b: Uint8Array) => void } | null; _readableState: ReadState } & Record<symbol, unknown>;

function onSharedRead(this: net.Socket, n: number, buf: Uint8Array): boolean {
  const copy = Buffer.allocUnsafe(n);
  copy.set(buf.subarray(0, n));
  const rs = (this as Owned)._readableState;
  // What Readable's addChunk does for a flowing stream with an empty buffer, minus the nextTick.
  if (this.readableFlowing === true && rs.length === 0 && rs.pipes.length === 0 && rs.decoder === null && !rs.objectMode && this.listenerCount('data') > 0) {
    this.emit('data', copy);
    return true; // a listener that paused the socket has already stopped its reads
  }
  return this.push(copy);
}

/**
 * Makes a server-side TLSSocket (just constructed over an accepted connection, before its first
 * read) read through the shared buffer; false when this Node.js cannot (then it reads as before).
 */
export function readThroughSharedBuffer(ts: net.Socket): boolean {
  const s = ts as Owned;
  const handle = s._handle;
  if (!KEYS || typeof handle?.useUserBuffer !== 'function' || s[KEYS.buffer] || s[KEYS.gen] !== null) return false;
  s[KEYS.buffer] = READ_BUFFER;
  s[KEYS.callback] = onSharedRead;
  handle.useUserBuffer(READ_BUFFER);
  return true;
}
