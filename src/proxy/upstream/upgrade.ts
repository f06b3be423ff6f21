// WebSocket (Upgrade) forwarding: relays the handshake, then splices the two sockets.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Stream } from '../hcm/stream.js';
import { responseHeaders } from '../hcm/headers.js';
import type { Cluster } from './cluster.js';
import { type Endpoint, isConnectFailure } from './endpoint.js';
import type { UpstreamRequest } from './forward.js';
import { UC_BODY, UF_BODY } from './replies.js';

/** Upgrade (WebSocket): relays the handshake, then splices the two sockets. */
export function forwardUpgrade(s: Stream, cluster: Cluster, ep: Endpoint, u: UpstreamRequest): void {
  const down = s.socket!;
  cluster.stats.upstream_rq_total++;
  const req = http.request({ agent: ep.httpAgent(), host: ep.host, port: ep.port, method: s.view.method, path: u.path, headers: s.requestHeaders as http.OutgoingHttpHeaders });
  s.onAbort = () => req.destroy();
  req.on('upgrade', (ures, up, head) => {
    cluster.stats.recordStatus(ures.statusCode ?? 101);
    const h = responseHeaders(ures.headers);
    h.connection = 'upgrade';
    if (ures.headers.upgrade) h.upgrade = ures.headers.upgrade;
    s.encodeHeaders(ures.statusCode ?? 101, h);
    splice(down, up, s.upgradeHead, head);
  });
  req.on('response', (ures) => {
    cluster.stats.recordStatus(ures.statusCode ?? 502);
    const h = responseHeaders(ures.headers);
    h.connection = 'close';
    s.encodeHeaders(ures.statusCode ?? 502, h);
    ures.pipe(down);
  });
  req.on('error', (err) => {
    if (s.headersSent) down.destroy();
    else s.sendLocalReply(503, isConnectFailure(err) ? UF_BODY : UC_BODY, isConnectFailure(err) ? 'UF' : 'UC');
  });
  req.end();
}

/** Two-way pipe of two sockets with error handling; either side closing closes the other. */
export function splice(down: Duplex, up: Duplex, downHead: Buffer | null, upHead: Buffer | null): void {
  const kill = (): void => {
    down.destroy();
    up.destroy();
  };
  down.on('error', kill);
  up.on('error', kill);
  down.on('close', kill);
  up.on('close', kill);
  if (upHead && upHead.length) down.write(upHead);
  if (downHead && downHead.length) up.write(downHead);
  down.pipe(up);
  up.pipe(down);
}
