// `weft` command-line entry: dispatches to one module per command.
import { CliError, EXIT } from './errors.js';
import { defaultIO, type CliIO } from './io.js';

type Command = { summary: string; load: () => Promise<{ run(argv: string[], io: CliIO): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  up: { summary: 'Run the control plane (weftd) and the ingress gateway in the foreground', load: () => import('./commands/up.js') },
  apply: { summary: 'Apply Istio YAML: weft apply -f FILE|DIR|- [-n NS] [--dry-run]', load: () => import('./commands/apply.js') },
  get: { summary: 'Show config: weft get KIND [NAME] [-n NS | -A] [-o yaml|json]', load: () => import('./commands/get.js') },
  create: { summary: 'Create a gateway TLS secret: weft create secret tls NAME --cert FILE --key FILE [--ca FILE] [-n NS]', load: () => import('./commands/create.js') },
  delete: { summary: 'Delete config: weft delete -f FILE | weft delete KIND NAME [-n NS]', load: () => import('./commands/delete.js') },
  validate: { summary: 'Validate Istio YAML offline: weft validate -f FILE|DIR|-', load: () => import('./commands/validate.js') },
  run: { summary: 'Run a program as a mesh workload: weft run --service NAME --port PORT -- COMMAND ...', load: () => import('./commands/run.js') },
  proxy: { summary: 'Run a sidecar or gateway proxy (started for you by weft run and weft up)', load: () => import('./commands/proxy.js') },
  'proxy-status': { summary: 'Sync state of every proxy connected to weftd', load: () => import('./commands/proxy-status.js') },
  'proxy-config': { summary: 'Show a proxy\'s listeners|routes|clusters|endpoints|bootstrap|all', load: () => import('./commands/proxy-config.js') },
  demo: { summary: 'Start a demo mesh: weft demo bookinfo', load: () => import('./commands/demo.js') },
  load: { summary: 'Load generator like fortio: weft load -c 2 -qps 0 -n 20 URL', load: () => import('./commands/load.js') },
  version: { summary: 'Print the version', load: () => import('./commands/version.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `weft: a service mesh with Istio's APIs\n\nUsage: weft COMMAND [flags]\n\nCommands:\n${lines.join('\n')}\n\n` +
    `The CLI finds weftd through --control-plane URL or WEFT_CONTROL_PLANE (default http://127.0.0.1:15014).\n`;
}

export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    (name ? io.out : io.err).write(usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version') return main(['version'], io);
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err.write(`weft: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const mod = await cmd.load();
    return await mod.run(rest, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.err.write(`weft ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof TypeError && (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      io.err.write(`weft ${name}: ${e.message}\n`);
      return EXIT.usage;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(`weft ${name}: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
    io.err.write(`weft ${name}: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.invalid;
  }
}
