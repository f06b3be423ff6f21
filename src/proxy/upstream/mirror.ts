// Request mirroring (Envoy request_mirror_policies): fire and forget. The shadow gets a copy of the
// request with "-shadow" appended to the host name; its answer is read and dropped, never sent on.
import http from 'node:http';
import type { Stream } from '../hcm/stream.js';
import type { MirrorPolicy } from '../router/compile.js';
import type { Headers } from '../router/headers.js';
import type { RequestBody } from './body.js';

/** Envoy appends -shadow to the host part, before any port. */
export function shadowHost(authority: string): string {
  const c = authority.lastIndexOf(':');
  if (c > 0 && authority.indexOf(']', c) < 0 && /^\d+$/.test(authority.slice(c + 1))) return `${authority.slice(0, c)}-shadow${authority.slice(c)}`;
  return `${authority}-shadow`;
}

/** Sends the shadows for this request. `body`: the buffered body (null when the request has none). */
export function mirrorRequest(s: Stream, mirrors: readonly MirrorPolicy[], path: string, authority: string, body: RequestBody | null, timeoutMs: number): void {
  for (const m of mirrors) {
    if (m.fraction < 1 && Math.random() >= m.fraction) continue;
    const cluster = m.cluster.current;
    if (!cluster) continue;
    // A body too large to buffer is not mirrored (Envoy shadows only what it buffered).
    if (body && !body.complete) continue;
    const ep = cluster.type === 'ORIGINAL_DST' ? null : cluster.picker.pick();
    if (!ep) {
      cluster.stats.upstream_cx_none_healthy++;
      continue;
    }
    const headers: Headers = { ...s.requestHeaders, host: m.suffix ? shadowHost(authority) : authority };
    const st = cluster.stats;
    st.upstream_rq_total++;
    st.upstream_rq_active++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      st.upstream_rq_active--;
    };
    const req = http.request({ agent: ep.httpAgent(), host: ep.host, port: ep.port, method: s.view.method, path, headers: headers as http.OutgoingHttpHeaders });
    req.setTimeout(timeoutMs > 0 ? timeoutMs : 15_000, () => {
      st.upstream_rq_timeout++;
      req.destroy();
    });
    req.on('response', (res) => {
      st.recordStatus(res.statusCode ?? 502);
      res.on('end', finish);
      res.on('error', finish);
      res.resume();
    });
    req.on('error', finish);
    req.on('close', finish);
    if (body) for (const c of body.chunks) req.write(c);
    req.end();
  }
}
