import { retry } from '@octokit/plugin-retry';
import { Octokit } from '@octokit/rest';
import { createIdempotency } from '@oncely/core';
import { serve } from '@oncely/msw';
import { oncelyFetch } from '@oncely/undici';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { countingRefusals, oncelyFor, pool, seeded } from './support.js';

// @octokit/rest 22 with plugin-retry: it retries every status >= 400 except 400, 401, 403, 404,
// 410, 422, 451 — so a refusal answered as a thrown network error would be retried 3 times.

const ORIGIN = 'https://api.github.com';
let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

async function fakeGitHub(drop: number) {
  const random = seeded(5);
  const issues: Array<{ number: number; title: string; body?: string }> = [];
  const handlers = [
    http.post(`${ORIGIN}/repos/:owner/:repo/issues`, async ({ request }) => {
      const body = (await request.json()) as { title: string; body?: string };
      const issue = { number: issues.length + 1, title: body.title, body: body.body };
      issues.push(issue);
      if (random() < drop) return HttpResponse.error();
      return HttpResponse.json(issue, {
        status: 201,
        headers: { 'x-github-request-id': `gh-${issue.number}` },
      });
    }),
    // The list endpoint a reconcile hook reads (GitHub's search index lags; the list does not).
    http.get(`${ORIGIN}/repos/:owner/:repo/issues`, () => HttpResponse.json(issues)),
  ];
  const served = await serve(handlers, { origin: ORIGIN });
  close = () => served.close();
  return { url: served.url, issues };
}

const RetryingOctokit = Octokit.plugin(retry);
function client(url: string, fetchFn?: typeof fetch) {
  return new RetryingOctokit({
    auth: 'ghp_oncely',
    baseUrl: url,
    retry: { retryAfterBaseValue: 1 }, // the plugin's pause, in ms: keeps the control fast
    request: fetchFn ? { fetch: fetchFn } : {},
  });
}

const OPS = 100;
const job = (gh: InstanceType<typeof RetryingOctokit>) =>
  pool(OPS, 20, (i) => gh.rest.issues.create({ owner: 'o', repo: 'r', title: `task ${i}` }));

describe('@octokit/rest 22 + plugin-retry through oncelyFetch', () => {
  it('bare: retries and re-runs open duplicate issues (the control)', async () => {
    const fake = await fakeGitHub(0.3);
    const gh = client(fake.url);
    await job(gh);
    await job(gh);
    expect(fake.issues.length).toBeGreaterThan(OPS * 2);
  });

  it('0 extra issues on a re-run and on two concurrent runs; refusals are not retried', async () => {
    const fake = await fakeGitHub(0.3);
    const { idem } = oncelyFor(fake.url);
    const { fetch: counted, counts } = countingRefusals(oncelyFetch(idem));
    const gh = client(fake.url, counted);

    const failed = await job(gh);
    for (const error of failed) expect(error).toMatchObject({ status: 422 });
    const rerun = await job(gh);
    const [a, b] = await Promise.all([job(gh), job(client(fake.url, counted))]);
    expect(fake.issues.length).toBe(OPS);
    expect(counts.refusals).toBe(failed.length + rerun.length + a.length + b.length);
  });

  it("refusals: 'throw' (a network error to octokit) is retried: the wasted attempts the default avoids", async () => {
    const fake = await fakeGitHub(0.3);
    const { idem } = oncelyFor(fake.url);
    const guarded = oncelyFetch(idem, { refusals: 'throw' });
    let rejected = 0;
    const counted = (async (input: string | URL | Request, init?: RequestInit) => {
      try {
        return await guarded(input, init);
      } catch (error) {
        rejected++;
        throw error;
      }
    }) as typeof fetch;
    const failed = await job(client(fake.url, counted));
    expect(failed.length).toBeGreaterThan(0);
    expect(fake.issues.length).toBe(OPS);
    // plugin-retry's 3 retries per refusal: each failed call was refused 4 times.
    expect(rejected).toBe(failed.length * 4);
  });

  it('docs/reconcile.md: a marker in the issue body lets a lost response be found, so every call succeeds', async () => {
    const fake = await fakeGitHub(0.3);
    let found = 0;
    // docs/reconcile.md — GitHub issues
    const idem = createIdempotency({
      routes: [
        {
          match: `POST ${fake.url}/repos/*/issues`,
          reconcile: async (ctx) => {
            const marker = (ctx.request.json as { body?: string }).body?.match(/<!-- op:[\w-]+ -->/)?.[0];
            if (!marker) return undefined; // no marker: cannot tell
            const { pathname } = new URL(ctx.request.url);
            const listed = await fetch(`${fake.url}${pathname}?state=all&per_page=100`, {
              headers: { authorization: ctx.request.headers.authorization ?? '' },
            });
            if (!listed.ok) return undefined;
            const issue = ((await listed.json()) as Array<{ body?: string }>).find((i) =>
              i.body?.includes(marker),
            );
            return issue ? ctx.found({ status: 201, body: issue }) : ctx.absent();
          },
        },
      ],
      reconcileGrace: 0,
      onEvent: (event) => {
        if (event.type === 'reconciled' && event.verdict === 'found') found++;
      },
    });
    const gh = client(fake.url, oncelyFetch(idem));
    const create = (i: number) =>
      gh.rest.issues.create({
        owner: 'o',
        repo: 'r',
        title: `task ${i}`,
        body: `details\n<!-- op:task-${i} -->`,
      });
    // octokit's own retry of a lost response reaches oncely, whose hook finds the issue by its marker.
    expect(await pool(OPS, 20, create)).toEqual([]);
    expect(await pool(OPS, 20, create)).toEqual([]);
    expect(found).toBeGreaterThan(0);
    expect(fake.issues.length).toBe(OPS);
  });

  it('a replay parses, with the headers octokit reads', async () => {
    const fake = await fakeGitHub(0);
    const { idem } = oncelyFor(fake.url);
    const gh = client(fake.url, oncelyFetch(idem));
    const first = await gh.rest.issues.create({ owner: 'o', repo: 'r', title: 'once' });
    const again = await gh.rest.issues.create({ owner: 'o', repo: 'r', title: 'once' });
    expect(again.status).toBe(201);
    expect(again.data).toEqual(first.data);
    expect(again.headers['x-github-request-id']).toBe('gh-1');
    expect(fake.issues).toHaveLength(1);
  });
});
