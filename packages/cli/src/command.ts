import type { ParseArgsConfig } from 'node:util';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * One subcommand: its options, a `parse` step that validates everything (and reads input files)
 * before the store is touched, and `run`, which does the work against a store.
 */
export interface Command<Input> {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpecs;
  parse(values: Values, positionals: string[]): Input | Promise<Input>;
  run(input: Input, ctx: CommandContext): Promise<void>;
}

/** The value of a string option, `undefined` when not given. */
export function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

/** A required, non-blank string option (e.g. `--reason`, `--reviewer`). */
export function requiredText(values: Values, name: string, why: string): string {
  const value = stringOption(values, name);
  if (value === undefined) throw new UsageError(`--${name} is required: ${why}`);
  if (value.trim() === '') throw new UsageError(`--${name} must not be empty: ${why}`);
  return value.trim();
}

/** Exactly one positional: the store key. */
export function singleKey(positionals: string[], command: string): string {
  if (positionals.length === 0) throw new UsageError(`${command} needs a key: oncely ${command} <key>`);
  if (positionals.length > 1) {
    throw new UsageError(`${command} takes one key, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const key = positionals[0]!;
  if (key.trim() === '') throw new UsageError(`${command} needs a non-empty key`);
  return key;
}

export function noPositionals(positionals: string[], command: string): void {
  if (positionals.length > 0)
    throw new UsageError(`${command} takes no arguments, got: ${positionals.join(' ')}`);
}
