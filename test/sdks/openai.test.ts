import { serve } from '@oncely/msw';
import { oncelyFetch } from '@oncely/undici';
import { HttpResponse, http } from 'msw';
import OpenAI, { toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { countingRefusals, oncelyFor, pool, seeded } from './support.js';

// openai 6 (a Stainless SDK: retries twice on network errors, 409, 429, 5xx unless the response
// says `x-should-retry: false`). A fake that commits, then drops a share of the responses.

const ORIGIN = 'https://api.openai.com';
let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

async function fakeOpenAI(drop: number) {
  const random = seeded(11);
  const writes: string[] = [];
  const handlers = [
    http.post(`${ORIGIN}/v1/chat/completions`, async ({ request }) => {
      const body = (await request.json()) as { messages: Array<{ content: string }>; stream?: boolean };
      const id = `chatcmpl_${writes.push('chat')}`;
      if (random() < drop) return HttpResponse.error();
      const content = `echo: ${body.messages[0]!.content}`;
      if (body.stream) {
        const events = [
          { id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] },
          { id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
        ];
        const sse = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`;
        return new HttpResponse(sse, { headers: { 'content-type': 'text/event-stream' } });
      }
      return HttpResponse.json(
        { id, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content } }] },
        { headers: { 'x-request-id': `req_${id}` } },
      );
    }),
    http.post(`${ORIGIN}/v1/files`, async ({ request }) => {
      const form = await request.formData();
      const file = form.get('file') as File;
      writes.push('file');
      return HttpResponse.json({
        id: `file_${writes.length}`,
        object: 'file',
        filename: file.name,
        bytes: file.size,
      });
    }),
  ];
  const served = await serve(handlers, { origin: ORIGIN });
  close = () => served.close();
  return { url: served.url, writes };
}

function client(url: string, fetchFn?: typeof fetch) {
  return new OpenAI({
    apiKey: 'sk-oncely',
    baseURL: `${url}/v1`,
    maxRetries: 2,
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
}

const OPS = 100;
const job = (ai: OpenAI) =>
  pool(OPS, 20, (i) =>
    ai.chat.completions.create({ model: 'gpt-x', messages: [{ role: 'user', content: `task ${i}` }] }),
  );

describe('openai 6 through oncelyFetch', () => {
  it('bare: the SDK retries lost responses into extra writes, and a re-run writes again (the control)', async () => {
    const fake = await fakeOpenAI(0.3);
    const ai = client(fake.url);
    await job(ai);
    await job(ai);
    expect(fake.writes.length).toBeGreaterThan(OPS * 2);
  });

  it('0 extra writes on a re-run and on two concurrent runs; refusals are final, not retried', async () => {
    const fake = await fakeOpenAI(0.3);
    const { idem } = oncelyFor(fake.url);
    const { fetch: guarded, counts } = countingRefusals(oncelyFetch(idem));
    const ai = client(fake.url, guarded);

    const failed = await job(ai);
    expect(fake.writes.length).toBe(OPS);
    // Lost responses have no lookup here: those calls end UNKNOWN_OUTCOME (operator path), once each.
    expect(failed.length).toBeGreaterThan(0);
    for (const error of failed) expect(error).toMatchObject({ status: 422, code: 'ONCELY_UNKNOWN_OUTCOME' });
    const rerun = await job(ai);
    await Promise.all([job(ai), job(client(fake.url, guarded))]);
    expect(fake.writes.length).toBe(OPS);
    // Every refusal reached the caller on its first attempt: the SDK retried none of them.
    expect(counts.refusals).toBe(failed.length + rerun.length * 3);
  });

  it('a replay parses as a ChatCompletion, with the request id', async () => {
    const fake = await fakeOpenAI(0);
    const { idem } = oncelyFor(fake.url);
    const ai = client(fake.url, oncelyFetch(idem));
    const messages = [{ role: 'user' as const, content: 'hi' }];
    const first = await ai.chat.completions.create({ model: 'gpt-x', messages });
    const again = await ai.chat.completions.create({ model: 'gpt-x', messages }).withResponse();
    expect(again.data.id).toBe(first.id);
    expect(again.data.choices[0]!.message.content).toBe('echo: hi');
    expect(again.response.headers.get('oncely-replayed')).toBe('true');
    expect(again.request_id).toBe(`req_${first.id}`);
    expect(fake.writes).toHaveLength(1);
  });

  it('file uploads work (the global FormData) and a second upload of the same file replays', async () => {
    const fake = await fakeOpenAI(0);
    const { idem } = oncelyFor(fake.url);
    const ai = client(fake.url, oncelyFetch(idem));
    const upload = async () =>
      ai.files.create({
        file: await toFile(Buffer.from('line 1\nline 2\n'), 'data.jsonl'),
        purpose: 'batch',
      });
    const first = await upload();
    const again = await upload();
    expect(first).toMatchObject({ filename: 'data.jsonl', bytes: 14 });
    expect(again.id).toBe(first.id);
    expect(fake.writes).toEqual(['file']);
  });

  it('a stream parses, and its replay streams the same chunks', async () => {
    const fake = await fakeOpenAI(0);
    const { idem } = oncelyFor(fake.url);
    const ai = client(fake.url, oncelyFetch(idem));
    const read = async () => {
      const stream = await ai.chat.completions.create({
        model: 'gpt-x',
        stream: true,
        messages: [{ role: 'user', content: 'go' }],
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return text;
    };
    expect(await read()).toBe('echo: go');
    expect(await read()).toBe('echo: go');
    expect(fake.writes).toHaveLength(1);
  });
});
