#!/usr/bin/env node
// Entry point of the `weft` CLI. The TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// Node 22.1+: cache compiled code on disk, so later starts (every sidecar) skip most parsing.
module.enableCompileCache?.();
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`weft: ${main} is missing; run 'npm install' (or 'npm run build') in ${root} first\n`);
  process.exit(2);
}
const { main: run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
