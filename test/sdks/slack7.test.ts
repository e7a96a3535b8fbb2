import { oncelyAdapter, oncelyErrorOf, type Refusals } from '@oncely/axios';
import type { Idempotency } from '@oncely/core';
import type { AxiosAdapter } from 'axios';
import { LogLevel, WebClient } from 'slack-web-api-7';
import { afterEach, describe, expect, it } from 'vitest';
import { oncelyFor, pool, slackLikeProvider } from './support.js';

// @slack/web-api 7 (axios). Its `adapter` option takes oncely's adapter. It retries (p-retry)
// every thrown error and every non-200, so a refusal thrown as an AxiosError is re-tried: only
// `refusals: 'slack'` (200 { ok: false }) is final. Replays must carry `response.request`:
// Slack 7 reads `response.request.path` on every answer.

let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

async function fakeSlack(drop: number) {
  const fake = await slackLikeProvider(drop);
  close = fake.close;
  return fake;
}

const RETRIES = 3;
function client(url: string, adapter?: AxiosAdapter) {
  return new WebClient('xoxb-oncely', {
    slackApiUrl: `${url}/api/`,
    logLevel: LogLevel.ERROR,
    retryConfig: { retries: RETRIES, minTimeout: 1, maxTimeout: 2 },
    ...(adapter ? { adapter } : {}),
  });
}

/** oncely's adapter, counting the attempts it refused (each one reached oncely and sent nothing). */
function counted(idem: Idempotency, refusals: Refusals) {
  const guarded = oncelyAdapter(idem, { refusals });
  const count = { refused: 0 };
  const adapter: AxiosAdapter = async (config) => {
    try {
      const response = await guarded(config);
      if (response.oncely?.refused) count.refused++;
      return response;
    } catch (error) {
      if (oncelyErrorOf(error)) count.refused++;
      throw error;
    }
  };
  return { adapter, count };
}

const OPS = 100;
const job = (slack: WebClient) =>
  pool(OPS, 20, (i) => slack.chat.postMessage({ channel: 'C1', text: `task ${i}` }));

describe('@slack/web-api 7 through oncelyAdapter', () => {
  it('bare: retries and re-runs post duplicate messages (the control)', async () => {
    const fake = await fakeSlack(0.3);
    const slack = client(fake.url);
    await job(slack);
    await job(slack);
    console.info(`slack7 bare: ${fake.posted.length - OPS} extra messages for ${OPS} operations`);
    expect(fake.posted.length).toBeGreaterThan(OPS * 2);
  });

  it("refusals: 'throw' (the default): Slack 7 retries each refusal, nothing extra is posted", async () => {
    const fake = await fakeSlack(0.3);
    const { idem } = oncelyFor(fake.url);
    const { adapter, count } = counted(idem, 'throw');
    const failed = await job(client(fake.url, adapter));
    expect(fake.posted.length).toBe(OPS);
    expect(failed.length).toBeGreaterThan(0);
    for (const error of failed) expect(oncelyErrorOf(error)?.code).toBe('ONCELY_UNKNOWN_OUTCOME');
    // A failed call: its first attempt was sent and its answer dropped; every retry was refused.
    // The first refusal is the answer; the RETRIES - 1 after it are wasted attempts.
    const wasted = count.refused - failed.length;
    console.info(`slack7 refusals 'throw': ${failed.length} failed calls, ${wasted} wasted attempts`);
    expect(count.refused).toBe(failed.length * RETRIES);
    expect(wasted).toBe(failed.length * (RETRIES - 1));
  });

  it("refusals: 'slack': 0 extra messages on a re-run and two concurrent runs, no wasted attempt", async () => {
    const fake = await fakeSlack(0.3);
    const { idem } = oncelyFor(fake.url);
    const { adapter, count } = counted(idem, 'slack');
    const slack = client(fake.url, adapter);

    const failed = await job(slack);
    expect(failed.length).toBeGreaterThan(0);
    for (const error of failed)
      expect(error).toMatchObject({ data: { ok: false, error: 'oncely_unknown_outcome' } });
    const rerun = await job(slack);
    const [a, b] = await Promise.all([job(slack), job(client(fake.url, adapter))]);
    expect(fake.posted.length).toBe(OPS);
    const finalFailures = failed.length + rerun.length + a.length + b.length;
    console.info(`slack7 refusals 'slack': ${count.refused - finalFailures} wasted attempts`);
    expect(count.refused).toBe(finalFailures);
  });

  it('a replay parses as the API answer (response.request.path is read)', async () => {
    const fake = await fakeSlack(0);
    const { idem } = oncelyFor(fake.url);
    const slack = client(fake.url, oncelyAdapter(idem, { refusals: 'slack' }));
    const first = await slack.chat.postMessage({ channel: 'C1', text: 'hello' });
    const again = await slack.chat.postMessage({ channel: 'C1', text: 'hello' });
    expect(again).toMatchObject({ ok: true, ts: first.ts });
    expect(fake.posted).toEqual(['hello']);
  });
});
