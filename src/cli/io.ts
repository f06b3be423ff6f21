// Output helpers shared by the commands. Streams are injectable so tests can run commands in-process.
// main.ts imports this for every command, `weft proxy` included: yaml (~30 ms to load) is imported when printed.

export interface CliIO {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export function defaultIO(): CliIO {
  return { out: process.stdout, err: process.stderr, stdin: process.stdin, env: process.env };
}

export async function printObjects(io: CliIO, objs: unknown[], format: 'yaml' | 'json', asList: boolean): Promise<void> {
  if (format === 'json') {
    io.out.write(JSON.stringify(asList ? { apiVersion: 'v1', kind: 'List', items: objs } : objs[0], null, 2) + '\n');
    return;
  }
  const { stringify } = await import('yaml');
  io.out.write(objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
}

/** Renders rows as an aligned table like kubectl/istioctl (upper-case headers, 3 spaces between columns). */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()).join('\n') + '\n';
}

export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A field of loosely typed JSON (xDS, config dumps) as a string, or the fallback. */
export function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : fallback;
}
