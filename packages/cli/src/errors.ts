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

/** The store could not be reached: oncely's own error, or ioredis' when the connection drops mid-command (e.g. a SCAN). */
export function isStoreDown(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    (error as { code?: unknown }).code === 'ONCELY_STORE_UNAVAILABLE' ||
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH/.test(error.message)
  );
}

/** The reason a store call failed, without the library's advice (which is for request senders). */
export function storeFailure(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return (cause instanceof Error ? cause.message : String(cause)).replace(/\.$/, '');
}

/**
 * Runs the one write of a command. If the store fails during it, the write may or may not have
 * landed: say so (exit 3) instead of "nothing was changed".
 */
export async function writing<T>(key: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isStoreDown(error)) throw error;
    throw new CliError(
      ExitCode.StoreUnavailable,
      `the store failed during the write (${storeFailure(error)}): the change may or may not have been made. ` +
        `Run oncely inspect ${key} once the store is back.`,
    );
  }
}
