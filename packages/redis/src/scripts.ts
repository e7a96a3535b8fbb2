/**
 * One Lua script per state transition, so each transition is atomic and costs one round trip.
 * A script reads the clock from Redis (`TIME`), never from the client — except `complete`, which
 * may be handed an estimate of Redis' clock (see COMPLETE) — and replies with strings only
 * (`{outcome, now, …}`), so RESP2 and RESP3 clients see the same reply.
 *
 * A record is one string (record.ts packs and parses it on the client), so a transition reads it
 * with one GET and writes it, with its expiry, with one SET:
 *   status|fencingToken|leaseUntil|expiresAt|createdAt|updatedAt|attempts|revision|waiters|leaseOwner
 *   ["key","scope","fingerprint","method","target"]
 *   the provider key as a JSON string, or empty
 *   the override grant as JSON, or empty
 *   the audit entries, a JSON array
 *   the stored response as JSON, or empty
 * JSON never holds a raw newline, so the lines split safely; the owner is last on its line.
 *
 * Redis drops a completed record at `expiresAt` by itself (PXAT expiresAt - 1: the contract says
 * expiresAt <= now is gone). An undecided one (in_flight, unknown) lingers for the grace past it,
 * read as gone, so the sweep can still report it; the undecided index (a sorted set by expiresAt)
 * tells the sweep which records to look at. KEYS of one call share one hash tag (one Cluster
 * slot); the epoch and the index are per prefix, or per slot on Cluster (keys.ts).
 */

const PRELUDE = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- '%d', not '%.0f': Lua 5.1 formats it as a C long, where '%.0f' runs glibc's multi-precision float
-- printing (measured with callgrind: about a tenth of all the instructions of a write).
local function num(n) return string.format('%d', n) end

-- The header line only: most transitions read no more (a replay, an extend, a fence check).
local function parse(v)
  local e1 = string.find(v, '\\n', 1, true)
  local r = {v = v, e1 = e1}
  local expires
  r.status, r.token, r.lease_until, expires, r.created, r.updated, r.attempts, r.revision, r.waiters, r.owner =
    string.match(string.sub(v, 1, e1 - 1), '^([%a_]+)|(%d+)|(%d*)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d)|(.*)$')
  r.expires = tonumber(expires)
  return r
end

-- The lines after the header, for a transition that changes them: plain finds (memchr) and
-- substrings, never a pattern over the response. The response is only copied out when the record
-- is packed again (r.response nil: as stored): a long string costs about 2 µs to make in Redis' Lua.
local function body(r)
  if r.ident or not r.v then return r end
  local v = r.v
  local e2 = string.find(v, '\\n', r.e1 + 1, true)
  local e3 = string.find(v, '\\n', e2 + 1, true)
  local e4 = string.find(v, '\\n', e3 + 1, true)
  r.e5 = string.find(v, '\\n', e4 + 1, true)
  r.ident, r.pk, r.grant = string.sub(v, r.e1 + 1, e2 - 1), string.sub(v, e2 + 1, e3 - 1), string.sub(v, e3 + 1, e4 - 1)
  r.audit = string.sub(v, e4 + 1, r.e5 - 1)
  return r
end

local function pack(r)
  local head = r.status .. '|' .. r.token .. '|' .. r.lease_until .. '|' .. num(r.expires) .. '|' .. r.created ..
    '|' .. r.updated .. '|' .. r.attempts .. '|' .. r.revision .. '|' .. r.waiters .. '|' .. r.owner
  -- Only the header changed: the rest as stored, in one piece.
  if not r.ident then return head .. string.sub(r.v, r.e1) end
  local response = r.response
  if not response then response = string.sub(r.v, r.e5 + 1) end
  return head .. '\\n' .. r.ident .. '\\n' .. r.pk .. '\\n' .. r.grant .. '\\n' .. r.audit .. '\\n' .. response
end

-- The record if it is there and not expired; else nil, and the expired undecided record still lingering.
local function load(record_key, now)
  local v = redis.call('GET', record_key)
  if not v then return nil end
  local r = parse(v)
  if r.expires <= now then return nil, r end
  return r, nil, v
end

-- Writes the record with its expiry (see the comment on top); returns what it wrote.
local function write(record_key, r, grace_ms)
  local v = pack(r)
  local drop_at = r.expires - 1
  if r.status ~= 'completed' then drop_at = drop_at + tonumber(grace_ms) end
  redis.call('SET', record_key, v, 'PXAT', num(drop_at))
  return v
end

-- A nil return means the caller holds the record; else why it does not.
local function owned(r, token, owner)
  if not r then return 'the record is gone' end
  if r.token ~= token then return 'the record now has token ' .. r.token end
  if r.status ~= 'in_flight' then return 'the record is now ' .. r.status end
  if owner ~= '' and r.owner ~= owner then return 'the lease belongs to another owner' end
  return nil
end

local function push_audit(r, entry)
  if entry == '' then return end
  body(r)
  if r.audit == '[]' then r.audit = '[' .. entry .. ']'
  else r.audit = string.sub(r.audit, 1, -2) .. ',' .. entry .. ']' end
end

-- Waiters flag the record when they start waiting (READ); only then is there anyone to wake.
local function wake(r, channel, message)
  if r.waiters == '1' then redis.call('PUBLISH', channel, message) end
end

-- The store epoch (epoch.ts): "<id>|<gen>|<at>|<refuseUntil>|<unknownUntil>", ms on Redis' clock.
local function parse_epoch(v)
  if not v then return nil end
  local id, gen, at, ru, uu = string.match(v, '^([^|]+)|(%d+)|(%d+)|(%d+)|(%d+)$')
  if not id then return nil end
  return {id = id, gen = tonumber(gen), at = tonumber(at), ru = tonumber(ru), uu = tonumber(uu)}
end
local function epoch_text(e)
  return e.id .. '|' .. num(e.gen) .. '|' .. num(e.at) .. '|' .. num(e.ru) .. '|' .. num(e.uu)
end

-- Judges the stored epoch against the one this store instance knew (k, nil for none), with the
-- generation its counter just gave (nil when there was no counter to ask). A missing epoch or a
-- generation not above one already seen means Redis lost writes: a new epoch starts, refusing
-- grants until refuseUntil and presuming absent keys unknown until unknownUntil. An instance that
-- never saw an epoch cannot tell a new Redis from one that lost everything: it just creates one.
local function epoch_judge(stored, k, counted, fresh, refuse_ms, unknown_ms, now)
  local e = parse_epoch(stored) or {}
  e.found = ''
  if k then
    if not e.id then e.found = 'missing'
    elseif e.id ~= k.id then e.found = 'replaced'
    elseif counted and counted <= k.gen then e.found = 'rollback' end
  end
  if e.found == 'missing' or e.found == 'rollback' then
    e.id, e.at, e.fresh = fresh, now, true
    e.ru, e.uu = math.max(e.ru or 0, now + refuse_ms), math.max(e.uu or 0, now + unknown_ms)
  elseif e.found == 'replaced' then
    -- Found by another instance (or created by one that never saw the old epoch): the windows
    -- count from then, at least as long as this instance's. Lengthened, the epoch takes a new id,
    -- so every instance that knew it reads it again.
    if e.at == 0 then e.at = now end
    local ru, uu = math.max(e.ru, e.at + refuse_ms), math.max(e.uu, e.at + unknown_ms)
    if ru ~= e.ru or uu ~= e.uu then e.ru, e.uu, e.moved_from, e.id = ru, uu, e.id, fresh end
  elseif not e.id then
    e.id, e.at, e.ru, e.uu, e.fresh = fresh, 0, 0, 0, true
  end
  return e
end

-- A grant takes the next generation of the epoch's counter (<epoch key>:<id>, INCR), and that is
-- its fencing token: it grows by one with every grant under the epoch, across records that were
-- released or expired; a new epoch's counter starts from the clock in microseconds, so it does not
-- hand out an old epoch's tokens again. One command while the epoch is the one this instance knew:
-- a generation not above the last it saw means the counter went back (a rollback) or was lost
-- (INCR of a missing counter gives 1). Then the epoch itself is read and judged.
-- e.changed: the client must be told the epoch (the reply carries it).
local function epoch_grant(key, known, fresh, refuse_ms, unknown_ms, now, now_us)
  local k = parse_epoch(known)
  local counted
  if k then
    counted = redis.call('INCR', key .. ':' .. k.id)
    if counted > k.gen and counted > 1 then
      return {id = k.id, gen = counted, at = k.at, ru = k.ru, uu = k.uu, found = '', changed = false}
    end
    if counted == 1 then
      redis.call('DEL', key .. ':' .. k.id)
      counted = 0
    end
  end
  local e = epoch_judge(redis.call('GET', key), k, counted, fresh, refuse_ms, unknown_ms, now)
  local counter = key .. ':' .. e.id
  if e.fresh then
    e.gen = now_us
    redis.call('SET', counter, num(e.gen))
  elseif e.moved_from then
    e.gen = math.max(redis.call('INCR', key .. ':' .. e.moved_from), now_us)
    redis.call('SET', counter, num(e.gen))
  else
    e.gen = redis.call('INCR', counter)
    -- No counter yet for an epoch that exists (written by an earlier version): start it from the clock.
    if e.gen == 1 then
      e.gen = now_us
      redis.call('SET', counter, num(e.gen))
    end
  end
  redis.call('SET', key, epoch_text(e))
  e.changed = true
  return e
end

-- A token above at_least that no grant under the epoch will hand out again (RESOLVE).
local function resolution_token(key, known, at_least, now_us)
  local k = parse_epoch(known)
  if not k then return math.max(at_least, now_us) end
  local counter = key .. ':' .. k.id
  local counted = redis.call('INCR', counter)
  if counted == 1 then
    redis.call('DEL', counter)
    return math.max(at_least, now_us)
  end
  if counted < at_least then
    redis.call('SET', counter, num(at_least))
    return at_least
  end
  return counted
end

local function epoch_reply(e)
  if e.changed then return epoch_text(e) end
  return ''
end

-- An expired undecided record found lingering by a new grant: set aside, as long as it would have
-- lingered, for the sweep to report.
local function set_aside(gone_key, record_key, r)
  local keep = redis.call('PEXPIRETIME', record_key)
  body(r).response = ''
  redis.call('RPUSH', gone_key, pack(r))
  if keep > 0 and redis.call('PEXPIREAT', gone_key, keep, 'NX') == 0 then
    redis.call('PEXPIREAT', gone_key, keep, 'GT')
  end
end
`;

/**
 * The record-state rules of packages/core/src/record.ts (`leaseLive`, `isTakeable`), for the
 * scripts that decide on a lease by Redis' clock. Keep the two in step: scripts.test.ts runs both
 * on one table of cases. `lease_until` is the field as stored ('' when there is no lease).
 */
export const LEASE_RULES = `
local function lease_live(status, lease_until, now)
  return status == 'in_flight' and (tonumber(lease_until) or 0) > now
end
local function is_takeable(status, lease_until, now)
  return not lease_live(status, lease_until, now)
end
`;

type Arg = string | number;

/**
 * One script's table: the names of its KEYS and of its ARGV, in the order the Lua body unpacks
 * them on its first lines (`local record_key, … = unpack(KEYS)`, `local owner, … = unpack(ARGV)`,
 * the names in snake_case, keys with `_key`). scripts.test.ts checks each body against its table.
 */
export interface Script<K extends string = string, A extends string = string> {
  /** Registered on the client as `oncely<Name>`. */
  readonly name: string;
  readonly keys: readonly K[];
  readonly argv: readonly A[];
  /** The script's own Lua, which starts by naming its KEYS and ARGV. */
  readonly body: string;
  /** What Redis runs: the shared helpers (and the lease rules where the body needs them), then the body. */
  readonly source: string;
}

function script<const K extends string, const A extends string = never>(table: {
  name: string;
  keys: readonly K[];
  argv?: readonly A[];
  leaseRules?: boolean;
  lua: string;
}): Script<K, A> {
  const { name, keys, argv = [], leaseRules = false, lua } = table;
  return { name, keys, argv, body: lua, source: helpersFor(lua) + (leaseRules ? LEASE_RULES : '') + lua };
}

/** The prelude's helpers (blank-line separated, each with the comments above it), in their order. */
const HELPERS = PRELUDE.split(/\n\s*\n/)
  .filter((chunk) => chunk.trim() !== '')
  .map((chunk) => ({
    names: [...chunk.matchAll(/local function (\w+)/g)].map((match) => match[1]!),
    lua: `${chunk.trim()}\n`,
  }));

/**
 * Only the helpers a body calls (and those they call): Redis runs the whole chunk on every call,
 * and each helper defined is a closure made per call (about 0.2 µs each, measured).
 */
function helpersFor(lua: string): string {
  const used = new Set<(typeof HELPERS)[number]>();
  let text = lua;
  for (let grew = true; grew; ) {
    grew = false;
    for (const helper of HELPERS) {
      if (used.has(helper) || !helper.names.some((name) => new RegExp(`\\b${name}\\(`).test(text))) continue;
      used.add(helper);
      text += helper.lua;
      grew = true;
    }
  }
  return `\n${HELPERS.filter((helper) => used.has(helper))
    .map((helper) => helper.lua)
    .join('')}`;
}

/** One call of a script: its KEYS and ARGV as lists, in the order of its table. */
export interface ScriptCall {
  readonly script: Script;
  readonly keys: string[];
  readonly argv: Arg[];
}

type KeysOf<S extends Script> = Record<S['keys'][number], string>;
type ArgvOf<S extends Script> = Record<S['argv'][number], Arg>;
/** A name the table does not have is a type error, even when it comes in through a spread. */
type Exactly<V, S extends Script> = V & Record<Exclude<keyof V, S['argv'][number]>, never>;

/**
 * Orders the KEYS and ARGV of a call by the script's table. Every ARGV name must be given, and
 * no other; `keys` may be a larger object (a `KeySet`): only the table's names are taken from it.
 */
export function args<S extends Script, const V extends ArgvOf<S>>(
  script: S,
  keys: KeysOf<S>,
  argv: Exactly<V, S>,
): ScriptCall {
  const keyOf = keys as Record<string, string>;
  const argOf = argv as Record<string, Arg>;
  return {
    script,
    keys: script.keys.map((name) => keyOf[name]!),
    argv: script.argv.map((name) => argOf[name]!),
  };
}

/** The last ARGV of a grant (reserve, takeOver), for epoch_grant: see epoch.ts. */
const EPOCH_ARGV = ['epochKnown', 'freshEpochId', 'resetRefuseMs', 'resetUnknownMs'] as const;

/**
 * A live record is answered as it is (a replay: TIME and GET). An expired undecided record still
 * lingering is set aside for the sweep before the new one is written. After the store lost
 * records (epoch): a live record is still answered (a replay is safe), an absent one is refused
 * during the window, then written `unknown`: an attempt before the loss may have executed, so it
 * is reconciled, never blindly sent again. `identity` is the JSON array of the record's second
 * line, `providerKey` a JSON string or ''.
 */
export const RESERVE = script({
  name: 'reserve',
  keys: ['record', 'epoch', 'index', 'gone'],
  argv: ['identity', 'owner', 'leaseMs', 'ttlMs', 'providerKey', 'graceMs', ...EPOCH_ARGV],
  lua: `
local record_key, epoch_key, index_key, gone_key = unpack(KEYS)
local identity, owner, lease_ms, ttl_ms, provider_key, grace_ms, epoch_known, fresh_epoch_id, reset_refuse_ms,
  reset_unknown_ms = unpack(ARGV)
local now, now_us = clock()
local live, lingering, v = load(record_key, now)
if live then return {'exists', num(now), v} end
if lingering and lingering.status ~= 'completed' then set_aside(gone_key, record_key, lingering) end
local e = epoch_grant(epoch_key, epoch_known, fresh_epoch_id, tonumber(reset_refuse_ms), tonumber(reset_unknown_ms),
  now, now_us)
if now < e.ru then return {'reset', num(now), '', epoch_reply(e), e.found} end
local r = {status = 'in_flight', token = num(e.gen), lease_until = num(now + tonumber(lease_ms)),
  expires = now + tonumber(ttl_ms), created = num(now), updated = num(now), attempts = '1', revision = '0',
  waiters = '0', owner = owner, ident = identity, pk = provider_key, grant = '', audit = '[]', response = ''}
local presumed = now < e.uu
if presumed then
  r.status, r.owner, r.lease_until = 'unknown', '', ''
  r.audit = '[{"at":' .. num(now) .. ',"action":"unknown","token":' .. r.token ..
    ',"detail":"store reset: the store lost its records; an attempt before the loss may have executed"}]'
end
v = write(record_key, r, grace_ms)
redis.call('ZADD', index_key, num(r.expires), record_key)
return {presumed and 'exists' or 'acquired', num(now), v, epoch_reply(e), e.found}
`,
});

/**
 * `callerNow` is Redis' clock as the caller estimates it (the grant's reply time plus the local
 * monotonic time since), or '' to read it here: it only dates the completion and its expiry, and
 * the estimate can only be early (see DESIGN.md §3). Replies without the record unless
 * `wantRecord` is '1'. `owner` is '' when the lease has no owner to check.
 */
export const COMPLETE = script({
  name: 'complete',
  keys: ['record', 'index'],
  argv: [
    'token',
    'owner',
    'responseJson',
    'callerNow',
    'ttlMs',
    'providerKey',
    'auditJson',
    'channel',
    'wantRecord',
  ],
  lua: `
local record_key, index_key = unpack(KEYS)
local token, owner, response_json, caller_now, ttl_ms, provider_key, audit_json, channel, want_record = unpack(ARGV)
local now = tonumber(caller_now) or clock()
local r = load(record_key, now)
local lost = owned(r, token, owner)
if lost then return {'lost', num(now), lost} end
r.status, r.owner, r.lease_until, r.response = 'completed', '', '', response_json
r.expires, r.updated = now + tonumber(ttl_ms), num(now)
body(r)
if provider_key ~= '' then r.pk = provider_key end
push_audit(r, audit_json)
local v = write(record_key, r, 0)
redis.call('ZREM', index_key, record_key)
wake(r, channel, 'completed\\n' .. v)
if want_record == '1' then return {'ok', num(now), v} end
return {'ok', num(now)}
`,
});

export const RELEASE = script({
  name: 'release',
  keys: ['record', 'index'],
  argv: ['token', 'owner', 'channel'],
  lua: `
local record_key, index_key = unpack(KEYS)
local token, owner, channel = unpack(ARGV)
local now = clock()
local r = load(record_key, now)
local lost = owned(r, token, owner)
if lost then return {'lost', num(now), lost} end
redis.call('DEL', record_key)
redis.call('ZREM', index_key, record_key)
wake(r, channel, 'released\\n')
return {'ok', num(now)}
`,
});

export const EXTEND = script({
  name: 'extend',
  keys: ['record'],
  argv: ['token', 'owner', 'leaseMs'],
  lua: `
local record_key = unpack(KEYS)
local token, owner, lease_ms = unpack(ARGV)
local now = clock()
local r = load(record_key, now)
local lost = owned(r, token, owner)
if lost then return {'lost', num(now), lost} end
r.lease_until, r.updated = num(now + tonumber(lease_ms)), num(now)
redis.call('SET', record_key, pack(r), 'KEEPTTL')
return {'ok', num(now), r.lease_until}
`,
});

export const MARK_UNKNOWN = script({
  name: 'markUnknown',
  keys: ['record', 'index'],
  argv: ['token', 'owner', 'cause', 'ttlMs', 'graceMs', 'channel'],
  lua: `
local record_key, index_key = unpack(KEYS)
local token, owner, cause, ttl_ms, grace_ms, channel = unpack(ARGV)
local now = clock()
local r = load(record_key, now)
local lost = owned(r, token, owner)
if lost then return {'lost', num(now), lost} end
r.status, r.owner, r.lease_until = 'unknown', '', ''
r.expires, r.updated = now + tonumber(ttl_ms), num(now)
push_audit(r, '{"at":' .. num(now) .. ',"action":"unknown","token":' .. token .. ',"detail":' .. cjson.encode(cause) .. '}')
write(record_key, r, grace_ms)
redis.call('ZADD', index_key, num(r.expires), record_key)
wake(r, channel, 'unknown\\n')
return {'ok', num(now)}
`,
});

/**
 * Refused unless the record still has the token and the status the caller saw: an owner that
 * completed after its lease expired keeps its token, so the token alone would not tell. Refused
 * too during the window after the store lost records (epoch). `bumpRevision`, `consumeGrant`: '1'
 * or '0'. Taking over a completed record (an override) tells the other processes' caches.
 */
export const TAKE_OVER = script({
  name: 'takeOver',
  keys: ['record', 'epoch', 'index'],
  argv: [
    'expectedToken',
    'expectedStatus',
    'owner',
    'leaseMs',
    'ttlMs',
    'fingerprint',
    'providerKey',
    'bumpRevision',
    'consumeGrant',
    'auditJson',
    'graceMs',
    'changedChannel',
    ...EPOCH_ARGV,
  ],
  leaseRules: true,
  lua: `
local record_key, epoch_key, index_key = unpack(KEYS)
local expected_token, expected_status, owner, lease_ms, ttl_ms, fingerprint, provider_key, bump_revision,
  consume_grant, audit_json, grace_ms, changed_channel, epoch_known, fresh_epoch_id, reset_refuse_ms,
  reset_unknown_ms = unpack(ARGV)
local now, now_us = clock()
local r, _, v = load(record_key, now)
if not r then return {'gone', num(now)} end
if r.token ~= expected_token or r.status ~= expected_status or not is_takeable(r.status, r.lease_until, now) then
  return {'refused', num(now), v}
end
local e = epoch_grant(epoch_key, epoch_known, fresh_epoch_id, tonumber(reset_refuse_ms), tonumber(reset_unknown_ms),
  now, now_us)
if now < e.ru then return {'reset', num(now), '', epoch_reply(e), e.found} end
local was = r.status
body(r)
r.status, r.token, r.owner, r.lease_until = 'in_flight', num(e.gen), owner, num(now + tonumber(lease_ms))
r.expires, r.updated, r.attempts = now + tonumber(ttl_ms), num(now), num(tonumber(r.attempts) + 1)
if fingerprint ~= '' then
  local identity = cjson.decode(r.ident)
  identity[3] = fingerprint
  r.ident = cjson.encode(identity)
end
if provider_key ~= '' then r.pk = provider_key end
if bump_revision == '1' then r.revision = num(tonumber(r.revision) + 1) end
if consume_grant == '1' then r.grant = '' end
push_audit(r, '{"token":' .. r.token .. ',' .. string.sub(audit_json, 2))
v = write(record_key, r, grace_ms)
redis.call('ZADD', index_key, num(r.expires), record_key)
if was == 'completed' then redis.call('PUBLISH', changed_channel, record_key) end
return {'won', num(now), v, epoch_reply(e), e.found}
`,
});

/** `markWaiter` '1': the caller is about to wait, so the transition out of in_flight publishes. */
export const READ = script({
  name: 'read',
  keys: ['record'],
  argv: ['markWaiter'],
  lua: `
local record_key = unpack(KEYS)
local mark_waiter = unpack(ARGV)
local now = clock()
local r, _, v = load(record_key, now)
if not r then return {'gone', num(now)} end
if mark_waiter == '1' and r.status == 'in_flight' and r.waiters == '0' then
  r.waiters = '1'
  v = pack(r)
  redis.call('SET', record_key, v, 'KEEPTTL')
end
return {'ok', num(now), v}
`,
});

/** A compare-and-set: only the record the operator inspected (same token and status) is changed. */
export const RESOLVE = script({
  name: 'resolve',
  keys: ['record', 'index', 'epoch'],
  argv: [
    'resolveAs', // 'completed', or 'absent': the record is deleted
    'responseJson', // '' when absent
    'ttlMs', // 0 when absent
    'auditJson',
    'channel',
    'changedChannel',
    'expectedToken',
    'expectedStatus',
    'epochKnown', // the epoch as this instance knows it, or '': the new token comes from its counter
  ],
  lua: `
local record_key, index_key, epoch_key = unpack(KEYS)
local resolve_as, response_json, ttl_ms, audit_json, channel, changed_channel, expected_token,
  expected_status, epoch_known = unpack(ARGV)
local now, now_us = clock()
local r = load(record_key, now)
if not r then return {'gone', num(now)} end
if r.token ~= expected_token or r.status ~= expected_status then return {'changed', num(now), r.status, r.token} end
redis.call('PUBLISH', changed_channel, record_key)
if resolve_as == 'absent' then
  redis.call('DEL', record_key)
  redis.call('ZREM', index_key, record_key)
  redis.call('PUBLISH', channel, 'resolved\\n')
  return {'deleted', num(now)}
end
-- A new token, so the owner of the lease (if it ever comes back) cannot write over the resolution,
-- taken from the epoch's counter (and the counter moved past it), so no later grant repeats it.
r.token = num(resolution_token(epoch_key, epoch_known, tonumber(r.token) + 1, now_us))
r.status, r.response, r.owner, r.lease_until = 'completed', response_json, '', ''
r.expires, r.updated = now + tonumber(ttl_ms), num(now)
push_audit(r, audit_json)
local v = write(record_key, r, 0)
redis.call('ZREM', index_key, record_key)
redis.call('PUBLISH', channel, 'completed\\n' .. v)
return {'ok', num(now), v}
`,
});

/** A compare-and-set, as resolve. */
export const GRANT_OVERRIDE = script({
  name: 'grantOverride',
  keys: ['record'],
  argv: ['grantJson', 'auditJson', 'expectedToken', 'expectedStatus', 'changedChannel'],
  lua: `
local record_key = unpack(KEYS)
local grant_json, audit_json, expected_token, expected_status, changed_channel = unpack(ARGV)
local now = clock()
local r = load(record_key, now)
if not r then return {'gone', num(now)} end
if r.token ~= expected_token or r.status ~= expected_status then return {'changed', num(now), r.status, r.token} end
body(r).grant, r.updated = grant_json, num(now)
push_audit(r, audit_json)
local v = pack(r)
redis.call('SET', record_key, v, 'KEEPTTL')
redis.call('PUBLISH', changed_channel, record_key)
return {'ok', num(now), v}
`,
});

/**
 * One member of the undecided index whose score (expiresAt) has passed: a record still undecided
 * and expired is handed back once (without its response) and deleted; a completed, released or
 * re-granted one leaves the index, or stays with its later expiry.
 */
export const SWEEP_RECORD = script({
  name: 'sweepRecord',
  keys: ['index', 'record'],
  lua: `
local index_key, record_key = unpack(KEYS)
local now = clock()
local v = redis.call('GET', record_key)
if v then
  local r = parse(v)
  if r.status ~= 'completed' then
    if r.expires <= now then
      redis.call('DEL', record_key)
      redis.call('ZREM', index_key, record_key)
      body(r).response = ''
      return {'expired', num(now), pack(r)}
    end
    redis.call('ZADD', index_key, num(r.expires), record_key)
    return {'live', num(now)}
  end
end
redis.call('ZREM', index_key, record_key)
return {'live', num(now)}
`,
});

/** Records set aside by a grant (packed, without the response), handed back once. */
export const SWEEP_GONE = script({
  name: 'sweepGone',
  keys: ['gone'],
  lua: `
local gone_key = unpack(KEYS)
local now = clock()
local out = {'expired', num(now)}
for _, entry in ipairs(redis.call('LRANGE', gone_key, 0, -1)) do out[#out + 1] = entry end
redis.call('DEL', gone_key)
return out
`,
});

/** Every script, registered on the client as an ioredis command (see client.ts). */
export const SCRIPTS: readonly Script[] = [
  RESERVE,
  COMPLETE,
  RELEASE,
  EXTEND,
  MARK_UNKNOWN,
  TAKE_OVER,
  READ,
  RESOLVE,
  GRANT_OVERRIDE,
  SWEEP_RECORD,
  SWEEP_GONE,
];

export function commandName(script: Script): string {
  return `oncely${script.name[0]!.toUpperCase()}${script.name.slice(1)}`;
}
