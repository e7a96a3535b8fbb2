import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError, ReplayUnavailableError } from './errors.js';
import type { StoredResponse } from './types.js';

export interface EncryptionOptions {
  /** Key id → 32-byte key (a Uint8Array of 32 bytes, or a base64 string of 32 bytes). Key ids: 1-32 chars of [A-Za-z0-9_-]. */
  keys: Record<string, string | Uint8Array>;
  /** The key id new records are sealed with; every other key still opens older records (rotation). */
  current: string;
}

export interface Sealer {
  /**
   * Returns a copy of `stored` whose headers and body are replaced by one `sealed` string;
   * status/statusText stay readable (for the CLI) and are authenticated: they are part of the
   * additional data with `aad` (the store key), so an edit of either does not open.
   */
  seal(stored: StoredResponse, aad: string): StoredResponse;
  /** Inverse of seal. A StoredResponse without `sealed` is returned as is (records written before encryption was turned on). */
  open(stored: StoredResponse, aad: string): StoredResponse;
}

type Plain = Pick<StoredResponse, 'headers' | 'body' | 'omitted'>;

// Key ids travel inside the sealed string, so they must not contain its '.' separator.
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Strict on purpose: Buffer's decoder skips stray characters, so a string edit could go unnoticed.
const B64URL = /^[A-Za-z0-9_-]+$/;
const IV_BYTES = 12; // the GCM-native nonce size: random 96-bit IVs need no counter state across processes
const TAG_BYTES = 16; // full tag; accepting a shorter one would weaken authentication

/** Validates the keys up front so a bad config fails at startup, not at the first replay. */
export function createSealer(options: EncryptionOptions): Sealer {
  const keys = new Map<string, Buffer>(); // a Map, so an id like 'constructor' never hits Object.prototype
  const entries = options?.keys && typeof options.keys === 'object' ? Object.entries(options.keys) : [];
  if (entries.length === 0) throw new ConfigError('encryption.keys must hold at least one key');
  for (const [id, raw] of entries) keys.set(id, toKey(id, raw));
  if (typeof options.current !== 'string' || !keys.has(options.current)) {
    throw new ConfigError(`encryption.current '${String(options.current)}' is not in encryption.keys`);
  }
  const currentId = options.current;
  const currentKey = keys.get(currentId)!;

  return {
    seal(stored, aad) {
      if (stored.sealed !== undefined) return stored; // already sealed: sealing twice would nest
      const { headers, body, omitted, ...rest } = stored;
      const plain: Plain = { headers, body, omitted };
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(aad, stored)); // binds the blob to its store key and its status
      const data = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
      const sealed = ['v1', currentId, iv, cipher.getAuthTag(), data]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join('.');
      const out: StoredResponse = { ...rest, headers: {}, sealed };
      return out;
    },

    open(stored, aad) {
      const { sealed, ...rest } = stored;
      if (sealed === undefined) return stored;
      const fail = (reason: string) => new ReplayUnavailableError(aad, stored.status, reason);
      const parts = sealed.split('.');
      const [version, id, ivText, tagText, dataText] = parts;
      if (parts.length !== 5 || version !== 'v1' || !id || !KEY_ID.test(id)) {
        throw fail('the sealed response is malformed');
      }
      const key = keys.get(id);
      if (!key) throw fail(`the stored response is sealed with key '${id}', which is not in encryption.keys`);
      const notOpen = 'the sealed response does not open (tampered, or sealed for another key)';
      if (![ivText, tagText, dataText].every((p) => p !== undefined && B64URL.test(p))) throw fail(notOpen);
      const iv = Buffer.from(ivText!, 'base64url');
      const tag = Buffer.from(tagText!, 'base64url');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw fail(notOpen);
      let plain: Plain;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(additionalData(aad, stored));
        decipher.setAuthTag(tag);
        const text = Buffer.concat([decipher.update(Buffer.from(dataText!, 'base64url')), decipher.final()]);
        plain = JSON.parse(text.toString('utf8')) as Plain;
      } catch {
        throw fail(notOpen); // the crypto error says nothing useful and must not leak into logs as a cause
      }
      const out: StoredResponse = { ...rest, headers: plain.headers ?? {} };
      if (typeof plain.body === 'string') out.body = plain.body;
      if (plain.omitted !== undefined) out.omitted = plain.omitted;
      return out;
    },
  };
}

/**
 * The additional data a blob is sealed under: the store key, the status and the status text, which
 * stay outside the ciphertext (readable) but cannot change without the blob failing to open (a
 * store-side edit of 402 → 200 would otherwise replay a declined payment as a success). JSON, so
 * no two triples encode alike; a missing status text is `null`, never `""`.
 */
function additionalData(aad: string, stored: StoredResponse): Buffer {
  return Buffer.from(JSON.stringify([aad, stored.status, stored.statusText ?? null]), 'utf8');
}

/** Decodes one configured key; messages name the key id and the problem, never the key bytes. */
function toKey(id: string, raw: unknown): Buffer {
  if (!KEY_ID.test(id)) {
    throw new ConfigError(`encryption key id ${JSON.stringify(id)} must be 1-32 chars of [A-Za-z0-9_-]`);
  }
  let bytes: Buffer;
  // A copy: later changes to the caller's array do not reach the sealer.
  if (raw instanceof Uint8Array) bytes = Buffer.from(raw);
  else if (typeof raw === 'string') {
    if (!BASE64.test(raw)) throw new ConfigError(`encryption.keys['${id}'] is not valid base64`);
    bytes = Buffer.from(raw, 'base64');
  } else throw new ConfigError(`encryption.keys['${id}'] must be a base64 string or a Uint8Array`);
  if (bytes.length !== 32) {
    throw new ConfigError(`encryption.keys['${id}'] is ${bytes.length} bytes; AES-256 needs exactly 32`);
  }
  return bytes;
}
