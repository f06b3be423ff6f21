#!/usr/bin/env node
// Writes src/xds/envoy-descriptor.generated.ts (the compact descriptor of the Envoy types in PROTO_FILES)
// from the compiled sources: run through `npm run gen:protos`, which builds first.
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { PROTO_FILES } = await import(new URL('../dist/src/xds/protos.js', import.meta.url).href);
const { descriptorModuleText } = await import(new URL('../dist/src/xds/proto-descriptor.js', import.meta.url).href);
const out = `${root}src/xds/envoy-descriptor.generated.ts`;
const text = descriptorModuleText(PROTO_FILES);
let old = '';
try { old = readFileSync(out, 'utf8'); } catch { /* first run */ }
if (old === text) {
  console.log(`${out}: up to date`);
} else {
  writeFileSync(out, text);
  console.log(`${out}: written (${text.length} bytes); run npx tsc -p . again to compile it`);
}
