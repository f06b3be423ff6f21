// Captures a CLI command's output so tests can run `weft` commands in-process.
import { PassThrough, Readable } from 'node:stream';
import type { CliIO } from '../../src/cli/io.js';

export interface CapturedIO extends CliIO { stdout(): string; stderr(): string }

export function captureIO(env: NodeJS.ProcessEnv = {}, stdinText = ''): CapturedIO {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c: Buffer) => o.push(c));
  err.on('data', (c: Buffer) => e.push(c));
  return {
    out, err, stdin: Readable.from([stdinText]), env: { HOME: '/nonexistent', ...(process.env.WEFT_TOKEN ? { WEFT_TOKEN: process.env.WEFT_TOKEN } : {}), ...env },
    stdout: () => Buffer.concat(o).toString(),
    stderr: () => Buffer.concat(e).toString(),
  };
}
