import {
  ConfigError,
  IdempotencyError,
  isIdempotencyError,
  LeaseLostError,
  PayloadMismatchError,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';
// A second copy of core's classes, as when a plugin resolves its own copy of @oncely/core.
import * as secondCopy from '../dist/errors.js';

describe('error identity across two copies of core', () => {
  it('the copies are different classes', () => {
    expect(secondCopy.LeaseLostError).not.toBe(LeaseLostError);
  });

  it("an error from the other copy is instanceof this copy's class, and its ancestors", () => {
    const lost = new secondCopy.LeaseLostError('ns:abc');
    expect(lost).toBeInstanceOf(LeaseLostError);
    expect(lost).toBeInstanceOf(IdempotencyError);
    expect(isIdempotencyError(lost)).toBe(true);
    expect(new LeaseLostError('ns:abc')).toBeInstanceOf(secondCopy.LeaseLostError);
  });

  it('each class is told apart: a LeaseLostError is no PayloadMismatchError, a ConfigError no LeaseLostError', () => {
    const lost = new secondCopy.LeaseLostError('ns:abc');
    expect(lost instanceof PayloadMismatchError).toBe(false);
    expect(lost instanceof ConfigError).toBe(false);
    expect(new secondCopy.ConfigError('bad') instanceof LeaseLostError).toBe(false);
    expect(new LeaseLostError('ns:abc') instanceof PayloadMismatchError).toBe(false);
  });

  it('a subclass outside core (a plugin error) is recognised through its ancestors', () => {
    class PluginError extends secondCopy.ConfigError {}
    const error = new PluginError('plugin refused');
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(IdempotencyError);
    expect(error instanceof LeaseLostError).toBe(false);
  });

  it('the brand is what counts: an object carrying it passes, the same object without it does not', () => {
    const branded = { [Symbol.for('oncely.error')]: ['LeaseLostError', 'IdempotencyError'] };
    expect(branded instanceof LeaseLostError).toBe(true);
    expect(branded instanceof IdempotencyError).toBe(true);
    expect(branded instanceof PayloadMismatchError).toBe(false);
    expect({} instanceof IdempotencyError).toBe(false);
    expect(new Error('plain') instanceof IdempotencyError).toBe(false);
    expect((null as unknown) instanceof IdempotencyError).toBe(false);
    expect(('LeaseLostError' as unknown) instanceof LeaseLostError).toBe(false);
  });

  it('the brand stays out of own-property walks and JSON', () => {
    const error = new LeaseLostError('ns:abc');
    expect(Object.getOwnPropertyDescriptor(error, Symbol.for('oncely.error'))?.enumerable).toBe(false);
    expect(Object.getOwnPropertySymbols({ ...error })).toEqual([]);
  });
});
