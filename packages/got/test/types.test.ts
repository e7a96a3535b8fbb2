import { createIdempotency } from '@oncely/core';
import got, { type BeforeRequestHook, type Response } from 'got';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type GotExtension, idempotency } from '../src/index.js';

// got 16 merges the types of what `extend()` receives. Typed as got's whole `ExtendOptions`,
// `idempotency()` carried `responseType?`/`resolveBodyOnly?` into the instance, and
// `got.extend(idempotency(idem)).post()` was `unknown` in a got 16 project (TS18046; found by
// scripts/pack-smoke.mjs). It returns the hook alone; tsc checks the types below (got 14 here,
// got 16 in the pack smoke).
describe('idempotency() extend options', () => {
  const extension = idempotency(createIdempotency({}));

  it('hold only the beforeRequest hook', () => {
    expect(Object.keys(extension)).toEqual(['hooks']);
    expect(Object.keys(extension.hooks)).toEqual(['beforeRequest']);
    expectTypeOf(extension).toEqualTypeOf<GotExtension>();
    expectTypeOf<keyof GotExtension>().toEqualTypeOf<'hooks'>();
    expectTypeOf<GotExtension['hooks']>().toEqualTypeOf<{ beforeRequest: BeforeRequestHook[] }>();
  });

  it('leave the client’s response types alone', () => {
    const client = got.extend(extension);
    const post = () => client.post('http://127.0.0.1:1/v1/charges');
    const json = () => client.post('http://127.0.0.1:1/v1/charges').json<{ id: string }>();
    expectTypeOf<Awaited<ReturnType<typeof post>>>().toEqualTypeOf<Response<string>>();
    expectTypeOf<Awaited<ReturnType<typeof json>>>().toEqualTypeOf<{ id: string }>();
  });
});
