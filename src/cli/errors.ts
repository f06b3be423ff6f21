// Exit codes are public API: scripts depend on them.
export const EXIT = { ok: 0, invalid: 1, usage: 2, unreachable: 3 } as const;

/** A failure the CLI reports as one clear message and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.invalid) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}
