/**
 * One Lua script per state transition, so each transition is atomic and costs one round trip.
 * Every script reads the clock from Redis (`TIME`), never from the client, and replies with
 * strings only (`{outcome, now, field, value, …}`), so RESP2 and RESP3 clients see the same reply.
 * KEYS are the record, its token sequence and its expired-unknown markers: all share one hash tag.
 * The grants (reserve, takeOver) also check the store epoch (see epoch.ts): on standalone one key
 * per prefix, on Cluster one per slot, so it is always in the record's slot.
 */

const PRELUDE = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function num(n) return string.format('%.0f', n) end

-- Present and not expired. Redis expires at PXAT+1ms; the store's contract says expiresAt <= now is gone.
local function live(rec, now)
  local at = redis.call('HGET', rec, 'expiresAt')
  if not at then return false end
  if tonumber(at) <= now then redis.call('DEL', rec) return false end
  return true
end

local function reply(outcome, now, rec, skip_response)
  local out = {outcome, num(now)}
  if rec then
    local all = redis.call('HGETALL', rec)
    for i = 1, #all, 2 do
      if not (skip_response and all[i] == 'response') then
        out[#out + 1] = all[i]
        out[#out + 1] = all[i + 1]
      end
    end
  end
  return out
end

-- The sequence outlives the record (a released key keeps it); a missing one is seeded from the
-- clock in microseconds, so a token is never handed out twice for a key, even across expiry.
local function next_token(seq, now_us, expires)
  local last = tonumber(redis.call('GET', seq) or '0')
  local token = math.max(last + 1, now_us)
  local keep = redis.call('PEXPIRETIME', seq)
  if keep > expires then expires = keep end
  redis.call('SET', seq, num(token), 'PXAT', num(expires))
  return token
end

local function keep_sequence(seq, expires)
  local keep = redis.call('PEXPIRETIME', seq)
  if keep >= 0 and keep < expires then redis.call('PEXPIREAT', seq, num(expires)) end
end

-- A nil return means the caller holds the record; else why it does not.
local function owned(rec, token, owner, now)
  if not live(rec, now) then return 'the record is gone' end
  local f = redis.call('HMGET', rec, 'status', 'fencingToken', 'leaseOwner')
  if f[2] ~= token then return 'the record now has token ' .. tostring(f[2]) end
  if f[1] ~= 'in_flight' then return 'the record is now ' .. tostring(f[1]) end
  if owner ~= '' and f[3] ~= owner then return 'the lease belongs to another owner' end
  return nil
end

-- An operator's compare-and-set: nil while the record is the one inspected (same token and status),
-- else the reply: it is gone, or what it is now.
local function changed_since(rec, token, status, now)
  if not live(rec, now) then return {'gone', num(now)} end
  local seen = redis.call('HMGET', rec, 'status', 'fencingToken')
  if seen[2] ~= token or seen[1] ~= status then return {'changed', num(now), seen[1], seen[2]} end
  return nil
end

local function push_audit(rec, entry)
  if entry == '' then return end
  local list = redis.call('HGET', rec, 'audit')
  if not list or list == '[]' then list = '[' .. entry .. ']'
  else list = string.sub(list, 1, -2) .. ',' .. entry .. ']' end
  redis.call('HSET', rec, 'audit', list)
end

-- The store epoch (epoch.ts): "<id>|<gen>|<at>|<refuseUntil>|<unknownUntil>", ms on Redis' clock.
-- From the caller: the id and generation this store instance last saw ('' and 0: none yet),
-- a fresh id to use if a new epoch is needed, and its reset windows (ms). A missing epoch or a
-- generation older than one already seen means Redis lost writes: a new epoch starts, refusing
-- grants until refuseUntil and presuming absent keys unknown until unknownUntil. An instance that
-- never saw an epoch cannot tell a new Redis from one that lost everything: it just creates one.
local function epoch_check(key, known, last_gen, fresh, refuse_ms, unknown_ms, now)
  local e = {key = key, found = '', dirty = false}
  local v = redis.call('GET', key)
  if v then
    local id, gen, at, ru, uu = string.match(v, '^([^|]+)|(%d+)|(%d+)|(%d+)|(%d+)$')
    if id then
      e.id, e.gen, e.at, e.ru, e.uu = id, tonumber(gen), tonumber(at), tonumber(ru), tonumber(uu)
    end
  end
  if known ~= '' then
    if not e.id then e.found = 'missing'
    elseif e.id ~= known then e.found = 'replaced'
    elseif e.gen < tonumber(last_gen) then e.found = 'rollback' end
  end
  if e.found == 'missing' or e.found == 'rollback' then
    e.id, e.gen, e.at = fresh, e.gen or 0, now
    e.ru, e.uu = math.max(e.ru or 0, now + refuse_ms), math.max(e.uu or 0, now + unknown_ms)
    e.dirty = true
  elseif e.found == 'replaced' then
    -- Found by another instance (or created by one that never saw the old epoch): the windows
    -- count from then, at least as long as this instance's.
    if e.at == 0 then e.at = now end
    local ru, uu = math.max(e.ru, e.at + refuse_ms), math.max(e.uu, e.at + unknown_ms)
    e.dirty = ru ~= e.ru or uu ~= e.uu
    e.ru, e.uu = ru, uu
  elseif not e.id then
    e.id, e.gen, e.at, e.ru, e.uu, e.dirty = fresh, 0, 0, 0, 0, true
  end
  return e
end

-- Writes the epoch back (a grant bumps the generation) and appends it to the reply.
local function with_epoch(out, e, grant)
  if grant then e.gen = e.gen + 1 end
  local text = e.id .. '|' .. num(e.gen) .. '|' .. num(e.at) .. '|' .. num(e.ru) .. '|' .. num(e.uu)
  if grant or e.dirty then redis.call('SET', e.key, text) end
  out[#out + 1] = '__epoch'
  out[#out + 1] = text
  if e.found ~= '' then
    out[#out + 1] = '__found'
    out[#out + 1] = e.found
  end
  return out
end

-- A copy (without the response) kept past the record's expiry, to report an undecided record that expired.
local function mark(marker, rec, expires, grace)
  local all = redis.call('HGETALL', rec)
  local copy = {}
  for i = 1, #all, 2 do
    if all[i] ~= 'response' then
      copy[#copy + 1] = all[i]
      copy[#copy + 1] = all[i + 1]
    end
  end
  redis.call('DEL', marker)
  redis.call('HSET', marker, unpack(copy))
  redis.call('PEXPIREAT', marker, num(expires + tonumber(grace)))
end
`;

/**
 * The record-state rules of packages/core/src/record.ts (`leaseLive`, `isTakeable`), for the
 * scripts that decide on a lease by Redis' clock. Keep the two in step: scripts.test.ts runs both
 * on one table of cases. `lease_until` is the hash field as stored ('' when there is no lease).
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
  return { name, keys, argv, body: lua, source: PRELUDE + (leaseRules ? LEASE_RULES : '') + lua };
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

/** The last ARGV of a grant (reserve, takeOver), for epoch_check: see epoch.ts. */
const EPOCH_ARGV = ['epochId', 'epochGen', 'freshEpochId', 'resetRefuseMs', 'resetUnknownMs'] as const;

/**
 * A marker left by an undecided record that expired is moved to `gone` before the new one is written,
 * so the sweep still reports it. After the store lost records (epoch): a live record is still
 * answered (a replay is safe), an absent one is refused during the window, then written `unknown`:
 * an attempt before the loss may have executed, so it is reconciled, never blindly sent again.
 * ARGV: the request's identity, the lease asked for, the marker's grace past the record's expiry,
 * then the epoch's (the id and generation this instance saw, a fresh id, the reset windows).
 */
export const RESERVE = script({
  name: 'reserve',
  keys: ['record', 'sequence', 'marker', 'gone', 'epoch'],
  argv: [
    'key',
    'scope',
    'fingerprint',
    'method',
    'target',
    'owner',
    'leaseMs',
    'ttlMs',
    'providerKey',
    'graceMs',
    ...EPOCH_ARGV,
  ],
  lua: `
local record_key, sequence_key, marker_key, gone_key, epoch_key = unpack(KEYS)
local key, scope, fingerprint, method, target, owner, lease_ms, ttl_ms, provider_key, grace_ms,
  epoch_id, epoch_gen, fresh_epoch_id, reset_refuse_ms, reset_unknown_ms = unpack(ARGV)
local now, now_us = clock()
local e = epoch_check(epoch_key, epoch_id, epoch_gen, fresh_epoch_id, tonumber(reset_refuse_ms),
  tonumber(reset_unknown_ms), now)
if live(record_key, now) then return with_epoch(reply('exists', now, record_key), e, false) end
if now < e.ru then return with_epoch({'reset', num(now)}, e, false) end
if redis.call('EXISTS', marker_key) == 1 then
  local keep = redis.call('PEXPIRETIME', marker_key)
  redis.call('RPUSH', gone_key, cjson.encode(redis.call('HGETALL', marker_key)))
  if keep > redis.call('PEXPIRETIME', gone_key) then redis.call('PEXPIREAT', gone_key, keep) end
  redis.call('DEL', marker_key)
end
local expires = now + tonumber(ttl_ms)
local token = next_token(sequence_key, now_us, expires)
local presumed = now < e.uu
local status, lease_owner, lease_until, audit = 'in_flight', owner, num(now + tonumber(lease_ms)), '[]'
if presumed then
  status, lease_owner, lease_until = 'unknown', '', ''
  audit = '[{"at":' .. num(now) .. ',"action":"unknown","token":' .. num(token) ..
    ',"detail":"store reset: the store lost its records; an attempt before the loss may have executed"}]'
end
-- The new record's fields, written once to the record and once to its marker (the marker is gone by
-- now, see above), and echoed as the reply: no read-back of what was just written.
local fields = {'key', key, 'scope', scope, 'status', status, 'fingerprint', fingerprint,
  'method', method, 'target', target, 'createdAt', num(now), 'updatedAt', num(now), 'expiresAt', num(expires),
  'leaseOwner', lease_owner, 'leaseUntil', lease_until, 'fencingToken', num(token),
  'attempts', '1', 'revision', '0', 'audit', audit}
if provider_key ~= '' then
  fields[#fields + 1] = 'providerKey'
  fields[#fields + 1] = provider_key
end
redis.call('HSET', record_key, unpack(fields))
redis.call('PEXPIREAT', record_key, num(expires))
redis.call('HSET', marker_key, unpack(fields))
redis.call('PEXPIREAT', marker_key, num(expires + tonumber(grace_ms)))
local out = {presumed and 'exists' or 'acquired', num(now)}
for i = 1, #fields do out[#out + 1] = fields[i] end
return with_epoch(out, e, true)
`,
});

/** `owner` is '' when the lease has no owner to check (a store instance that did not grant it). */
export const COMPLETE = script({
  name: 'complete',
  keys: ['record', 'sequence', 'marker'],
  argv: ['token', 'owner', 'responseJson', 'ttlMs', 'providerKey', 'auditJson', 'channel'],
  lua: `
local record_key, sequence_key, marker_key = unpack(KEYS)
local token, owner, response_json, ttl_ms, provider_key, audit_json, channel = unpack(ARGV)
local now = clock()
local lost = owned(record_key, token, owner, now)
if lost then return {'lost', num(now), lost} end
local expires = now + tonumber(ttl_ms)
redis.call('HSET', record_key, 'status', 'completed', 'response', response_json, 'leaseOwner', '', 'leaseUntil', '',
  'expiresAt', num(expires), 'updatedAt', num(now))
if provider_key ~= '' then redis.call('HSET', record_key, 'providerKey', provider_key) end
push_audit(record_key, audit_json)
redis.call('PEXPIREAT', record_key, num(expires))
keep_sequence(sequence_key, expires)
redis.call('DEL', marker_key)
redis.call('PUBLISH', channel, 'completed')
return reply('ok', now, record_key, true)
`,
});

export const RELEASE = script({
  name: 'release',
  keys: ['record', 'marker'],
  argv: ['token', 'owner', 'channel'],
  lua: `
local record_key, marker_key = unpack(KEYS)
local token, owner, channel = unpack(ARGV)
local now = clock()
local lost = owned(record_key, token, owner, now)
if lost then return {'lost', num(now), lost} end
redis.call('DEL', record_key, marker_key)
redis.call('PUBLISH', channel, 'released')
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
local lost = owned(record_key, token, owner, now)
if lost then return {'lost', num(now), lost} end
local lease = now + tonumber(lease_ms)
redis.call('HSET', record_key, 'leaseUntil', num(lease), 'updatedAt', num(now))
return {'ok', num(now), num(lease)}
`,
});

export const MARK_UNKNOWN = script({
  name: 'markUnknown',
  keys: ['record', 'sequence', 'marker'],
  argv: ['token', 'owner', 'cause', 'ttlMs', 'graceMs', 'channel'],
  lua: `
local record_key, sequence_key, marker_key = unpack(KEYS)
local token, owner, cause, ttl_ms, grace_ms, channel = unpack(ARGV)
local now = clock()
local lost = owned(record_key, token, owner, now)
if lost then return {'lost', num(now), lost} end
local expires = now + tonumber(ttl_ms)
redis.call('HSET', record_key, 'status', 'unknown', 'leaseOwner', '', 'leaseUntil', '',
  'expiresAt', num(expires), 'updatedAt', num(now))
push_audit(record_key, '{"at":' .. num(now) .. ',"action":"unknown","token":' .. token .. ',"detail":' .. cjson.encode(cause) .. '}')
redis.call('PEXPIREAT', record_key, num(expires))
keep_sequence(sequence_key, expires)
mark(marker_key, record_key, expires, grace_ms)
redis.call('PUBLISH', channel, 'unknown')
return {'ok', num(now)}
`,
});

/**
 * Refused unless the record still has the token and the status the caller saw: an owner that
 * completed after its lease expired keeps its token, so the token alone would not tell. Refused
 * too during the window after the store lost records (epoch). `bumpRevision`, `consumeGrant`: '1' or '0'.
 */
export const TAKE_OVER = script({
  name: 'takeOver',
  keys: ['record', 'sequence', 'marker', 'epoch'],
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
    ...EPOCH_ARGV,
  ],
  leaseRules: true,
  lua: `
local record_key, sequence_key, marker_key, epoch_key = unpack(KEYS)
local expected_token, expected_status, owner, lease_ms, ttl_ms, fingerprint, provider_key, bump_revision,
  consume_grant, audit_json, grace_ms, epoch_id, epoch_gen, fresh_epoch_id, reset_refuse_ms,
  reset_unknown_ms = unpack(ARGV)
local now, now_us = clock()
local e = epoch_check(epoch_key, epoch_id, epoch_gen, fresh_epoch_id, tonumber(reset_refuse_ms),
  tonumber(reset_unknown_ms), now)
if not live(record_key, now) then return with_epoch({'gone', num(now)}, e, false) end
if now < e.ru then return with_epoch({'reset', num(now)}, e, false) end
local f = redis.call('HMGET', record_key, 'status', 'fencingToken', 'leaseUntil')
if f[2] ~= expected_token or f[1] ~= expected_status or not is_takeable(f[1], f[3], now) then
  return with_epoch(reply('refused', now, record_key), e, false)
end
local expires = now + tonumber(ttl_ms)
local token = next_token(sequence_key, now_us, expires)
redis.call('HSET', record_key, 'status', 'in_flight', 'fencingToken', num(token), 'leaseOwner', owner,
  'leaseUntil', num(now + tonumber(lease_ms)), 'expiresAt', num(expires), 'updatedAt', num(now))
redis.call('HINCRBY', record_key, 'attempts', 1)
if fingerprint ~= '' then redis.call('HSET', record_key, 'fingerprint', fingerprint) end
if provider_key ~= '' then redis.call('HSET', record_key, 'providerKey', provider_key) end
if bump_revision == '1' then redis.call('HINCRBY', record_key, 'revision', 1) end
if consume_grant == '1' then redis.call('HDEL', record_key, 'overrideGrant') end
push_audit(record_key, '{"token":' .. num(token) .. ',' .. string.sub(audit_json, 2))
redis.call('PEXPIREAT', record_key, num(expires))
mark(marker_key, record_key, expires, grace_ms)
return with_epoch(reply('won', now, record_key), e, true)
`,
});

export const READ = script({
  name: 'read',
  keys: ['record'],
  lua: `
local record_key = unpack(KEYS)
local now = clock()
if not live(record_key, now) then return {'gone', num(now)} end
return reply('ok', now, record_key)
`,
});

/** A compare-and-set: only the record the operator inspected (same token and status) is changed. */
export const RESOLVE = script({
  name: 'resolve',
  keys: ['record', 'sequence', 'marker'],
  argv: [
    'resolveAs', // 'completed', or 'absent': the record is deleted
    'responseJson', // '' when absent
    'ttlMs', // 0 when absent
    'auditJson',
    'channel',
    'expectedToken',
    'expectedStatus',
  ],
  lua: `
local record_key, sequence_key, marker_key = unpack(KEYS)
local resolve_as, response_json, ttl_ms, audit_json, channel, expected_token, expected_status = unpack(ARGV)
local now, now_us = clock()
local changed = changed_since(record_key, expected_token, expected_status, now)
if changed then return changed end
if resolve_as == 'absent' then
  redis.call('DEL', record_key, marker_key)
  redis.call('PUBLISH', channel, 'resolved')
  return {'deleted', num(now)}
end
local expires = now + tonumber(ttl_ms)
local token = next_token(sequence_key, now_us, expires)
redis.call('HSET', record_key, 'status', 'completed', 'response', response_json, 'fencingToken', num(token),
  'leaseOwner', '', 'leaseUntil', '', 'expiresAt', num(expires), 'updatedAt', num(now))
push_audit(record_key, audit_json)
redis.call('PEXPIREAT', record_key, num(expires))
redis.call('DEL', marker_key)
redis.call('PUBLISH', channel, 'resolved')
return reply('ok', now, record_key)
`,
});

/** A compare-and-set, as resolve. */
export const GRANT_OVERRIDE = script({
  name: 'grantOverride',
  keys: ['record'],
  argv: ['grantJson', 'auditJson', 'expectedToken', 'expectedStatus'],
  lua: `
local record_key = unpack(KEYS)
local grant_json, audit_json, expected_token, expected_status = unpack(ARGV)
local now = clock()
local changed = changed_since(record_key, expected_token, expected_status, now)
if changed then return changed end
redis.call('HSET', record_key, 'overrideGrant', grant_json, 'updatedAt', num(now))
push_audit(record_key, audit_json)
return reply('ok', now, record_key)
`,
});

/** A marker whose record (with that token) is gone is handed back once, then deleted. */
export const SWEEP_MARKER = script({
  name: 'sweepMarker',
  keys: ['marker', 'record'],
  lua: `
local marker_key, record_key = unpack(KEYS)
local now = clock()
local token = redis.call('HGET', marker_key, 'fencingToken')
if not token or redis.call('HGET', record_key, 'fencingToken') == token then return {'live', num(now)} end
local out = reply('expired', now, marker_key)
redis.call('DEL', marker_key)
return out
`,
});

/** Markers set aside by reserve (JSON arrays of field, value, …), handed back once. */
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
  SWEEP_MARKER,
  SWEEP_GONE,
];

export function commandName(script: Script): string {
  return `oncely${script.name[0]!.toUpperCase()}${script.name.slice(1)}`;
}
