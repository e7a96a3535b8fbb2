import { isDeepStrictEqual } from 'node:util';
import { createIdempotency, memoryStore, type OutgoingRequest, type RequestBody } from '@oncely/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/**
 * The key-derivation contract as properties: same meaning, same key; different meaning, different
 * fingerprint. Fixed seed and bounded runs keep CI deterministic and fast.
 */
const RUNS = { seed: 20261202, numRuns: 200 } as const;

const NAMESPACE = 'props';
const idem = createIdempotency({ namespace: NAMESPACE, store: memoryStore() });
const URL_BASE = 'https://api.example.com/v1/charges';
const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

const request = (body: RequestBody, contentType: string, url = URL_BASE): OutgoingRequest => ({
  method: 'POST',
  url,
  headers: { 'content-type': contentType },
  body,
});
const keyOf = (req: OutgoingRequest) => idem.keyFor(req)!;
const jsonKey = (body: RequestBody) => keyOf(request(body, JSON_TYPE));
const formKey = (body: string) => keyOf(request(body, FORM_TYPE));
const queryKey = (query: string) => keyOf(request(undefined, JSON_TYPE, `${URL_BASE}?${query}`));

// ---------------------------------------------------------------------------------------------
// Helpers: a seeded PRNG (the shuffles and the whitespace are a function of one generated seed,
// so a counterexample is the value plus that seed), a recursive key shuffle, noisy JSON text.

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The same value with every object's members in a random order (`Object.fromEntries` keeps `__proto__` own). */
function shuffleKeys(value: unknown, rand: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, rand));
  if (!isObject(value)) return value;
  const entries = shuffled(Object.keys(value), rand).map((k) => [k, shuffleKeys(value[k], rand)] as const);
  return Object.fromEntries(entries);
}

const WHITESPACE = [' ', '\n', '\t', '\r'];

/** JSON text of `value` with members shuffled and random insignificant whitespace between all tokens. */
function noisyJson(value: unknown, rand: () => number): string {
  const ws = () => {
    let s = '';
    for (let n = Math.floor(rand() * 3); n > 0; n--) s += WHITESPACE[Math.floor(rand() * WHITESPACE.length)];
    return s;
  };
  const emit = (v: unknown): string => {
    if (Array.isArray(v)) {
      if (!v.length) return `[${ws()}]`;
      return `[${v.map((x) => ws() + emit(x) + ws()).join(',')}]`;
    }
    if (isObject(v)) {
      const keys = shuffled(Object.keys(v), rand);
      if (!keys.length) return `{${ws()}}`;
      return `{${keys.map((k) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${emit(v[k])}${ws()}`).join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return ws() + emit(value) + ws();
}

/** Percent-encodes a form component; each space becomes `+` or `%20` at random. */
function encodeComponent(text: string, rand: () => number): string {
  return encodeURIComponent(text).replace(/%20/g, () => (rand() < 0.5 ? '+' : '%20'));
}

const encodePairs = (pairs: readonly (readonly [string, string])[], rand: () => number) =>
  pairs.map(([n, v]) => `${encodeComponent(n, rand)}=${encodeComponent(v, rand)}`).join('&');

const percentBytes = (bytes: readonly number[]) =>
  bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** JSON round trip: what a receiver would read. */
const roundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

// ---------------------------------------------------------------------------------------------
// Generators (small: depth 3, short strings).

const seed = fc.integer();
const anyJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

/** Numbers whose JSON text is exactly `String(n)`, whichever way the value reaches the library: no -0. */
const safeNumber = fc
  .oneof(fc.integer(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }))
  .filter((n) => Object.is(n, roundTrip(n)));
const shortString = fc.string({ unit: 'binary', maxLength: 6 });

const { object: plainObject } = fc.letrec<{
  value: unknown;
  array: unknown[];
  object: Record<string, unknown>;
}>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    safeNumber,
    shortString,
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc
    .uniqueArray(fc.tuple(shortString, tie('value')), { selector: (e) => e[0], maxLength: 4 })
    .map((entries) => Object.fromEntries(entries)),
}));

const formChar = fc.constantFrom(...'abZ09 +=&%~.*é€');
const formText = fc.string({ unit: formChar, maxLength: 5 });
const formPairs = fc.uniqueArray(fc.tuple(formText, formText), { selector: (p) => p[0], maxLength: 5 });

/** Two number literals of 16-25 digits that differ in exactly one digit (no leading zero). */
const digitPair = fc
  .record({
    first: fc.integer({ min: 1, max: 9 }),
    rest: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 15, maxLength: 24 }),
    at: fc.nat(),
    shift: fc.integer({ min: 1, max: 8 }),
    shape: fc.constantFrom('int', 'negative', 'fraction'),
  })
  .map(({ first, rest, at, shift, shape }) => {
    const a = [first, ...rest];
    const b = [...a];
    const i = at % a.length;
    b[i] = i === 0 ? ((a[i]! - 1 + shift) % 9) + 1 : (a[i]! + shift) % 10;
    const literal = (digits: number[]) => {
      const d = digits.join('');
      return shape === 'int' ? d : shape === 'negative' ? `-${d}` : `1.${d}`;
    };
    return [literal(a), literal(b)] as const;
  });

const ALL_BYTES = Array.from({ length: 256 }, (_, b) => b);
/** Bytes that may sit raw inside a JSON string: no controls, no `"`, no `\`; 0x80-0xFF included. */
const STRING_BYTES = ALL_BYTES.filter((b) => b >= 0x20 && b !== 0x22 && b !== 0x5c);

/** Two byte strings of the same length differing in one byte, each byte drawn from `alphabet`. */
const bytePair = (alphabet: readonly number[], maxLength: number) =>
  fc
    .record({
      picks: fc.array(fc.nat({ max: alphabet.length - 1 }), { minLength: 1, maxLength }),
      at: fc.nat(),
      shift: fc.integer({ min: 1, max: alphabet.length - 1 }),
    })
    .map(({ picks, at, shift }) => {
      const i = at % picks.length;
      const other = [...picks];
      other[i] = (picks[i]! + shift) % alphabet.length;
      return [picks.map((p) => alphabet[p]!), other.map((p) => alphabet[p]!)] as const;
    });

// ---------------------------------------------------------------------------------------------

describe('same meaning, same key', () => {
  it('JSON text vs the same value with shuffled members and insignificant whitespace', () => {
    fc.assert(
      fc.property(anyJson, seed, (value, s) => {
        const noisy = noisyJson(value, prng(s));
        expect(jsonKey(noisy)).toEqual(jsonKey(JSON.stringify(value)));
      }),
      RUNS,
    );
  });

  it('JSON text vs the same object passed as a JS object (members shuffled)', () => {
    fc.assert(
      fc.property(plainObject, seed, (value, s) => {
        const rand = prng(s);
        const text = jsonKey(JSON.stringify(value));
        expect(jsonKey(shuffleKeys(value, rand) as object)).toEqual(text);
        expect(jsonKey(noisyJson(value, rand))).toEqual(text);
      }),
      RUNS,
    );
  });

  it('JSON text as a string vs as a Buffer of its UTF-8 bytes', () => {
    fc.assert(
      fc.property(anyJson, seed, (value, s) => {
        const text = noisyJson(value, prng(s));
        expect(jsonKey(Buffer.from(text, 'utf8'))).toEqual(jsonKey(text));
      }),
      RUNS,
    );
  });

  it('form bodies: pair order and `+` vs `%20` for spaces do not matter', () => {
    fc.assert(
      fc.property(formPairs, seed, (pairs, s) => {
        const rand = prng(s);
        const plain = pairs.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
        expect(formKey(encodePairs(shuffled(pairs, rand), rand))).toEqual(formKey(plain));
      }),
      RUNS,
    );
  });

  it('query strings: parameter order and `+` vs `%20` for spaces do not matter', () => {
    fc.assert(
      fc.property(formPairs, seed, (pairs, s) => {
        const rand = prng(s);
        const plain = pairs.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
        expect(queryKey(encodePairs(shuffled(pairs, rand), rand))).toEqual(queryKey(plain));
      }),
      RUNS,
    );
  });
});

describe('different meaning, different fingerprint', () => {
  it('number literals that differ in one digit (even where Number(a) === Number(b))', () => {
    fc.assert(
      fc.property(digitPair, ([a, b]) => {
        const body = (n: string) => `{"amount":${n},"currency":"eur"}`;
        expect(jsonKey(body(a)).fingerprint).not.toBe(jsonKey(body(b)).fingerprint);
      }),
      RUNS,
    );
  });

  it('JSON string bytes that differ in one byte, invalid UTF-8 included (Buffer body)', () => {
    fc.assert(
      fc.property(bytePair(STRING_BYTES, 8), ([a, b]) => {
        const body = (bytes: readonly number[]) =>
          Buffer.concat([Buffer.from('{"note":"'), Buffer.from(bytes), Buffer.from('"}')]);
        expect(jsonKey(body(a)).fingerprint).not.toBe(jsonKey(body(b)).fingerprint);
      }),
      RUNS,
    );
  });

  it('form values whose percent-encoded bytes differ in one byte', () => {
    fc.assert(
      fc.property(bytePair(ALL_BYTES, 6), ([a, b]) => {
        const body = (bytes: readonly number[]) => `currency=eur&note=${percentBytes(bytes)}`;
        expect(formKey(body(a)).key).not.toBe(formKey(body(b)).key);
      }),
      RUNS,
    );
  });

  it('query values whose percent-encoded bytes differ in one byte', () => {
    fc.assert(
      fc.property(bytePair(ALL_BYTES, 6), ([a, b]) => {
        const query = (bytes: readonly number[]) => `currency=eur&note=${percentBytes(bytes)}`;
        expect(queryKey(query(a)).key).not.toBe(queryKey(query(b)).key);
      }),
      RUNS,
    );
  });

  it('JSON values that are not deep-equal', () => {
    fc.assert(
      fc.property(
        fc.tuple(anyJson, anyJson).filter(([a, b]) => !isDeepStrictEqual(roundTrip(a), roundTrip(b))),
        ([a, b]) => {
          expect(jsonKey(JSON.stringify(a)).fingerprint).not.toBe(jsonKey(JSON.stringify(b)).fingerprint);
        },
      ),
      RUNS,
    );
  });
});

describe('keys', () => {
  const bodies = fc.oneof(
    anyJson.map((v) => ({ body: JSON.stringify(v) as RequestBody, type: JSON_TYPE })),
    anyJson.map((v) => ({ body: Buffer.from(JSON.stringify(v)) as RequestBody, type: JSON_TYPE })),
    plainObject.map((v) => ({ body: v as RequestBody, type: JSON_TYPE })),
    formPairs.map((p) => ({ body: new URLSearchParams(p).toString() as RequestBody, type: FORM_TYPE })),
  );

  it('never contain the raw Authorization value', () => {
    fc.assert(
      fc.property(
        bodies,
        fc.string({ unit: 'grapheme-ascii', minLength: 12, maxLength: 24 }),
        fc.constantFrom('authorization', 'Authorization', 'AUTHORIZATION'),
        ({ body, type }, token, header) => {
          const auth = `Bearer ${token}`;
          const derived = keyOf({
            method: 'POST',
            url: URL_BASE,
            headers: { 'content-type': type, [header]: auth },
            body,
          });
          for (const part of [derived.key, derived.fingerprint]) {
            expect(part).not.toContain(auth);
            expect(part).not.toContain(token);
          }
        },
      ),
      RUNS,
    );
  });

  it('are stable: the same request twice (and on a second instance) gives the same key', () => {
    const other = createIdempotency({ namespace: NAMESPACE, store: memoryStore() });
    fc.assert(
      fc.property(bodies, formPairs, ({ body, type }, query) => {
        const url = `${URL_BASE}?${new URLSearchParams(query).toString()}`;
        const first = keyOf(request(body, type, url));
        expect(first.key).toMatch(/^props:[0-9a-f]{64}$/);
        expect(keyOf(request(body, type, url))).toEqual(first);
        expect(other.keyFor(request(body, type, url))).toEqual(first);
      }),
      RUNS,
    );
  });
});
