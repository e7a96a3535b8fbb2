/** The exit codes of `oncely` (documented in the README; scripts may rely on them). */
export const ExitCode = {
  Ok: 0,
  /** Bad command line or bad input (malformed response file, unknown status, missing --reason …). */
  Usage: 1,
  /** The key names no record in the store. */
  NotFound: 2,
  /** The store (Redis) could not be reached or did not answer in time. */
  StoreUnavailable: 3,
  /** The record's state does not allow the change without `--force` (e.g. resolving a completed record). */
  Refused: 4,
  /** Anything else: a bug or an unexpected reply. */
  Internal: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one clear line and turns into an exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad command line or bad input: nothing was changed. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(ExitCode.Usage, message);
    this.name = 'UsageError';
  }
}
