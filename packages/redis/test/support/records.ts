import type { IdempotencyRecord } from '@oncely/core';
import type { Redis } from 'ioredis';
import { keysFor } from '../../src/keys.js';
import { packRecord, unpackRecord } from '../../src/record.js';

/** Changes a stored record behind the store's back (no script, no PUBLISH), keeping its expiry. */
export async function editRecord(
  client: Redis,
  prefix: string,
  key: string,
  change: (record: IdempotencyRecord) => void,
): Promise<void> {
  const name = keysFor(prefix, key).record;
  const value = await client.get(name);
  if (value === null) throw new Error(`no record under ${name}`);
  const record = unpackRecord(value);
  change(record);
  await client.set(name, packRecord(record), 'KEEPTTL');
}

/** The stored record, read straight from Redis. */
export async function storedRecord(
  client: Redis,
  prefix: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const value = await client.get(keysFor(prefix, key).record);
  return value === null ? undefined : unpackRecord(value);
}
