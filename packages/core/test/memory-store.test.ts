import { memoryStore } from '@oncely/core';
import { storeContract } from '@oncely/core/testing';

const store = memoryStore();
storeContract('memory', () => store, { teardown: () => store.close() });

import { describe, expect, it } from 'vitest';

describe('memory store copies', () => {
  it('records handed out cannot change the stored record', async () => {
    const local = memoryStore();
    const { record } = await local.reserve({
      key: 'copies:k',
      scope: 's',
      fingerprint: 'f',
      method: 'POST',
      target: 't',
      owner: 'o',
      leaseMs: 60_000,
      ttlMs: 60_000,
    });
    const response = { status: 200, headers: { 'x-a': ['1'] }, body: '' };
    const done = await local.complete('copies:k', record.fencingToken, { response, ttlMs: 60_000 });
    (done.response!.headers['x-a'] as string[]).push('2');
    done.audit.push({ at: 0, action: 'unknown' });
    response.headers['x-a'].push('3');
    const again = await local.get('copies:k');
    expect(again?.response?.headers).toEqual({ 'x-a': ['1'] });
    expect(again?.audit).toEqual([]);
    local.close();
  });
});
