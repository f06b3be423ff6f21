import { loadCommand } from '../../load/index.js';
import type { CliIO } from '../io.js';

/** `weft load`: Weft's fortio (same flags and report shape). */
export async function run(argv: string[], io: CliIO): Promise<number> {
  return loadCommand(argv, io.out);
}
