import { readFileSync } from 'node:fs';
import type { CliIO } from '../io.js';

export function weftVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function run(_argv: string[], io: CliIO): Promise<number> {
  io.out.write(`weft version ${weftVersion()} (node ${process.version})\n`);
  return 0;
}
