// Request body buffering for retries and mirroring, as Envoy does: a body up to the buffer limit is
// kept so another attempt (or a shadow) can send it again; a larger one streams once, unretried.
import type { Stream } from '../hcm/stream.js';

/** Envoy's default per_connection_buffer_limit_bytes. */
export const BODY_BUFFER_LIMIT = 1024 * 1024;

export interface RequestBody {
  /** The chunks read so far (all of them when `complete`). */
  readonly chunks: Buffer[];
  /** The whole body is in `chunks`: it can be sent any number of times. */
  readonly complete: boolean;
}

/** Reads the downstream body into memory up to `limit`, then calls `done` (once). */
export function bufferBody(s: Stream, limit: number, done: (b: RequestBody) => void): void {
  const req = s.req;
  const cl = Number(req.headers['content-length']);
  if (Number.isFinite(cl) && cl > limit) {
    done({ chunks: [], complete: false });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (complete: boolean): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    done({ chunks, complete });
  };
  const onData = (c: Buffer | string): void => {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    chunks.push(b);
    size += b.length;
    if (size > limit) {
      // Too big to keep: stop reading here; the attempt sends these chunks, then pipes the rest.
      req.pause();
      finish(false);
    }
  };
  const onEnd = (): void => finish(true);
  req.on('data', onData);
  req.on('end', onEnd);
}
