import { ConfigError } from '@oncely/core';
import { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { type OncelyRequestOptions, oncelyErrorOf } from '../src/index.js';
import { rejection, useFakeServer } from './harness.js';

describe('the per-request oncely option is checked before anything is sent', () => {
  const { server, client } = useFakeServer();

  it.each([
    ['skip as a string', { skip: 'yes' }, /oncely\.skip must be a boolean/],
    ['key as a number', { key: 42 }, /oncely\.key must be a string/],
    ['not an object', 'order-1', /oncely must be an object/],
  ])('%s: ONCELY_CONFIG, nothing sent', async (_, option, message) => {
    const { instance } = client();
    const oncely = option as unknown as OncelyRequestOptions;
    const error = await rejection(instance.post('/plain/orders', { amount: 1 }, { oncely }));
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).oncelyCode).toBe('ONCELY_CONFIG');
    expect(oncelyErrorOf(error)).toBeInstanceOf(ConfigError);
    expect((error as AxiosError).message).toMatch(message);
    expect(server().requests()).toHaveLength(0);
  });

  it('a boolean skip still sends the request as is, unguarded', async () => {
    const { instance } = client();
    await instance.post('/plain/orders', { amount: 1 }, { oncely: { skip: true } });
    const again = await instance.post('/plain/orders', { amount: 1 }, { oncely: { skip: true } });
    expect(again.oncely).toBeUndefined();
    expect(server().writes()).toBe(2);
  });
});
