// Test helper: runs a compiled sample as a real process on a loopback port (PORT=0) and reads the
// bound port from its "listening on" line.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SampleProcess {
  child: ChildProcess;
  port: number;
  url: string;
  output: () => string;
  stop: () => Promise<number | null>;
}

export function samplePath(rel: string): string {
  return new URL(`../../samples/${rel}`, import.meta.url).pathname;
}

export function startSample(rel: string, env: Record<string, string> = {}, args: string[] = []): Promise<SampleProcess> {
  const child = spawn(process.execPath, [samplePath(rel), ...args], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      void stop();
      reject(new Error(`${rel} did not start within 8 s; output:\n${out}`));
    }, 8000);
    const check = (): void => {
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(deadline);
        child.stdout?.off('data', check);
        const port = Number(m[1]);
        resolve({ child, port, url: `http://127.0.0.1:${port}`, output: () => out, stop });
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(deadline);
      reject(new Error(`${rel} exited with ${code} before listening; output:\n${out}`));
    });
  });
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** An in-process HTTP server that records requests and answers with `respond`. */
export async function fakeServer(
  respond: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; port: number; requests: Recorded[]; close: () => Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    respond(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port with nothing listening (bound then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
