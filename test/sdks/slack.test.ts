import { serve } from '@oncely/msw';
import { oncelyFetch } from '@oncely/undici';
import { WebClient } from '@slack/web-api';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { countingRefusals, oncelyFor, pool, seeded } from './support.js';

// @slack/web-api 8 (fetch). It retries every thrown error and every non-200 (p-retry, ten times in
// about thirty minutes), so a refusal must come back in Slack's own form: 200 { ok: false }.

const ORIGIN = 'https://slack.com';
let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

async function fakeSlack(drop: number) {
  const random = seeded(3);
  const posted: string[] = [];
  const handlers = [
    http.post(`${ORIGIN}/api/chat.postMessage`, async ({ request }) => {
      const form = new URLSearchParams(await request.text());
      posted.push(form.get('text') ?? '');
      if (random() < drop) return HttpResponse.error();
      return HttpResponse.json({ ok: true, channel: form.get('channel'), ts: `${posted.length}.000` });
    }),
  ];
  const served = await serve(handlers, { origin: ORIGIN });
  close = () => served.close();
  return { url: served.url, posted };
}

function client(url: string, fetchFn?: typeof fetch) {
  return new WebClient('xoxb-oncely', {
    slackApiUrl: `${url}/api/`,
    retryConfig: { retries: 3, minTimeout: 1, maxTimeout: 2 },
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
}

const OPS = 100;
const job = (slack: WebClient) =>
  pool(OPS, 20, (i) => slack.chat.postMessage({ channel: 'C1', text: `task ${i}` }));

describe('@slack/web-api 8 through oncelyFetch', () => {
  it('bare: retries and re-runs post duplicate messages (the control)', async () => {
    const fake = await fakeSlack(0.3);
    const slack = client(fake.url);
    await job(slack);
    await job(slack);
    expect(fake.posted.length).toBeGreaterThan(OPS * 2);
  });

  it("0 extra messages on a re-run and on two concurrent runs; refusals: 'slack' is final", async () => {
    const fake = await fakeSlack(0.3);
    const { idem } = oncelyFor(fake.url);
    const { fetch: counted, counts } = countingRefusals(oncelyFetch(idem, { refusals: 'slack' }));
    const slack = client(fake.url, counted);

    const failed = await job(slack);
    for (const error of failed)
      expect(error).toMatchObject({ data: { ok: false, error: 'oncely_unknown_outcome' } });
    const rerun = await job(slack);
    const [a, b] = await Promise.all([job(slack), job(client(fake.url, counted))]);
    expect(fake.posted.length).toBe(OPS);
    expect(counts.refusals).toBe(failed.length + rerun.length + a.length + b.length);
  });

  it('a replay parses as the API answer', async () => {
    const fake = await fakeSlack(0);
    const { idem } = oncelyFor(fake.url);
    const slack = client(fake.url, oncelyFetch(idem, { refusals: 'slack' }));
    const first = await slack.chat.postMessage({ channel: 'C1', text: 'hello' });
    const again = await slack.chat.postMessage({ channel: 'C1', text: 'hello' });
    expect(again).toMatchObject({ ok: true, ts: first.ts });
    expect(fake.posted).toEqual(['hello']);
  });
});
