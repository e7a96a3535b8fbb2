import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, type IdempotencyStore, RecordChangedError, RecordNotFoundError } from '@oncely/core';
import { type Command, type OptionSpecs, stringOption, type Values } from './command.js';
import { inspectCommand } from './commands/inspect.js';
import { listCommand } from './commands/list.js';
import { overrideCommand } from './commands/override.js';
import { purgeCommand } from './commands/purge.js';
import { resolveCommand } from './commands/resolve.js';
import { type Connection, DEFAULT_REDIS_URL, type OpenedStore, openRedisStore } from './connect.js';
import type { Output } from './context.js';
import { CliError, ExitCode, isStoreDown, storeFailure, UsageError } from './errors.js';

// biome-ignore lint/suspicious/noExplicitAny: each command has its own input type
export const COMMANDS: Command<any>[] = [
  listCommand,
  inspectCommand,
  resolveCommand,
  overrideCommand,
  purgeCommand,
];

const CONNECTION_OPTIONS: OptionSpecs = {
  'redis-url': { type: 'string' },
  'key-prefix': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export interface MainOptions {
  stdout: Output;
  stderr: Output;
  /** Where `REDIS_URL` is read from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Opens the store for a command. Default: the Redis store at `--redis-url` / `REDIS_URL`. */
  openStore?: ((connection: Connection) => Promise<OpenedStore>) | undefined;
}

/** Runs a store you already hold (tests, embedding): `main(argv, { ...io, openStore: useStore(store) })`. */
export function useStore(store: IdempotencyStore, now: () => number = Date.now): () => Promise<OpenedStore> {
  return async () => ({ store, now, close: async () => undefined });
}

/** `oncely <command> [options]`: returns the exit code; never throws, never calls `process.exit`. */
export async function main(argv: string[], options: MainOptions): Promise<number> {
  const { stdout, stderr } = options;
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? stderr : stdout).write(overview());
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (name === '--version' || name === '-v') {
    stdout.write(`${version()}\n`);
    return ExitCode.Ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    stderr.write(`oncely: unknown command '${name}'\n\n${overview()}`);
    return ExitCode.Usage;
  }
  try {
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...CONNECTION_OPTIONS, ...command.options },
        allowPositionals: true,
        strict: true,
      }) as { values: Values; positionals: string[] };
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (parsed.values.help === true) {
      stdout.write(help(command));
      return ExitCode.Ok;
    }
    // Everything is validated (and input files read) before the store is touched.
    const input = await command.parse(parsed.values, parsed.positionals);
    const env = options.env ?? process.env;
    const redisUrl = stringOption(parsed.values, 'redis-url') ?? env.REDIS_URL ?? DEFAULT_REDIS_URL;
    const keyPrefix = stringOption(parsed.values, 'key-prefix');
    const opened = await (options.openStore ?? openRedisStore)({ redisUrl, keyPrefix });
    try {
      await command.run(input, { store: opened.store, stdout, stderr, now: opened.now });
    } finally {
      await opened.close();
    }
    return ExitCode.Ok;
  } catch (error) {
    const code = exitCodeOf(error);
    stderr.write(`oncely ${command.name}: ${messageOf(error, code)}\n`);
    if (code === ExitCode.Usage && error instanceof UsageError) stderr.write(`usage: ${command.usage}\n`);
    return code;
  }
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof RecordNotFoundError) return ExitCode.NotFound;
  // Lost a compare-and-set: the engine or another operator changed the record first.
  if (error instanceof RecordChangedError) return ExitCode.Refused;
  if (isStoreDown(error)) return ExitCode.StoreUnavailable;
  if (error instanceof ConfigError) return ExitCode.Usage;
  return ExitCode.Internal;
}

function messageOf(error: unknown, code: ExitCode): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RecordNotFoundError) {
    return `${message} Check the key (copy it from \`oncely list\`) and --key-prefix. Nothing was changed.`;
  }
  if (code === ExitCode.StoreUnavailable && !(error instanceof CliError)) {
    return `the store is unavailable (${storeFailure(error)}). Nothing was changed.`;
  }
  if (code === ExitCode.Internal)
    return `unexpected error: ${error instanceof Error ? (error.stack ?? message) : message}`;
  return message;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'oncely: operate the idempotency records of oncely (after an incident: list, inspect, resolve, override).',
    '',
    'usage: oncely <command> [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'connection (every command):',
    `  --redis-url URL     default REDIS_URL or ${DEFAULT_REDIS_URL}`,
    "  --key-prefix P      the Redis store's keyPrefix (default oncely:)",
    '',
    'oncely <command> --help shows the options of a command. Exit codes: 0 ok, 1 usage or bad input,',
    '2 not found, 3 store unavailable, 4 refused (needs --force), 5 unexpected error.',
    '',
  ].join('\n');
}

function help(command: Command<unknown>): string {
  return `${command.summary}.\n\nusage: ${command.usage}\n       [--redis-url URL] [--key-prefix P]\n`;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
