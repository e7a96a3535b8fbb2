import { describe, expect, it } from 'vitest';
import { effectiveStatus, expiredUndecided, isTakeable, leaseLive } from '../src/record.js';

// The one home of "an in_flight record whose lease expired counts as unknown and may be taken over".
describe('record-state rules', () => {
  const inFlight = (leaseUntil: number | null) => ({ status: 'in_flight' as const, leaseUntil });

  it('a lease is live strictly before leaseUntil, by the given (store) clock', () => {
    expect(leaseLive(inFlight(1000), 999)).toBe(true);
    expect(leaseLive(inFlight(1000), 1000)).toBe(false);
    expect(leaseLive(inFlight(null), 0)).toBe(false);
    expect(leaseLive({ status: 'completed', leaseUntil: 5000 }, 0)).toBe(false);
  });

  it('an in_flight record with an expired lease reads as unknown; others read as stored', () => {
    expect(effectiveStatus(inFlight(1000), 999)).toBe('in_flight');
    expect(effectiveStatus(inFlight(1000), 1000)).toBe('unknown');
    expect(effectiveStatus({ status: 'completed', leaseUntil: null }, 0)).toBe('completed');
    expect(effectiveStatus({ status: 'unknown', leaseUntil: null }, 0)).toBe('unknown');
  });

  it('only a live lease stands in the way of a takeover', () => {
    expect(isTakeable(inFlight(1000), 999)).toBe(false);
    expect(isTakeable(inFlight(1000), 1000)).toBe(true);
    expect(isTakeable({ status: 'completed', leaseUntil: null }, 0)).toBe(true);
    expect(isTakeable({ status: 'unknown', leaseUntil: null }, 0)).toBe(true);
  });

  it('a record expired undecided unless its lease outlived it', () => {
    expect(expiredUndecided({ ...inFlight(900), expiresAt: 1000 })).toBe(true);
    expect(expiredUndecided({ ...inFlight(1100), expiresAt: 1000 })).toBe(false);
    expect(expiredUndecided({ status: 'unknown', leaseUntil: null, expiresAt: 1000 })).toBe(true);
    expect(expiredUndecided({ status: 'completed', leaseUntil: null, expiresAt: 1000 })).toBe(false);
  });
});
