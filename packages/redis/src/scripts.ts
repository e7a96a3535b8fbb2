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

local function push_audit(rec, entry)
  if entry == '' then return end
  local list = redis.call('HGET', rec, 'audit')
  if not list or list == '[]' then list = '[' .. entry .. ']'
  else list = string.sub(list, 1, -2) .. ',' .. entry .. ']' end
  redis.call('HSET', rec, 'audit', list)
end

-- The store epoch (epoch.ts): "<id>|<gen>|<at>|<refuseUntil>|<unknownUntil>", ms on Redis' clock.
-- ARGV from the caller: the id and generation this store instance last saw ('' and 0: none yet),
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
 * KEYS: rec seq marker gone epoch.
 * ARGV: key scope fingerprint method target owner leaseMs ttlMs providerKey graceMs
 *       epochId epochGen freshEpochId resetRefuseMs resetUnknownMs
 * A marker left by an undecided record that expired is moved to `gone` before the new one is written,
 * so the sweep still reports it. After the store lost records (epoch): a live record is still
 * answered (a replay is safe), an absent one is refused during the window, then written `unknown`:
 * an attempt before the loss may have executed, so it is reconciled, never blindly sent again.
 */
const reserve = `
local now, now_us = clock()
local e = epoch_check(KEYS[5], ARGV[11], ARGV[12], ARGV[13], tonumber(ARGV[14]), tonumber(ARGV[15]), now)
if live(KEYS[1], now) then return with_epoch(reply('exists', now, KEYS[1]), e, false) end
if now < e.ru then return with_epoch({'reset', num(now)}, e, false) end
if redis.call('EXISTS', KEYS[3]) == 1 then
  local keep = redis.call('PEXPIRETIME', KEYS[3])
  redis.call('RPUSH', KEYS[4], cjson.encode(redis.call('HGETALL', KEYS[3])))
  if keep > redis.call('PEXPIRETIME', KEYS[4]) then redis.call('PEXPIREAT', KEYS[4], keep) end
  redis.call('DEL', KEYS[3])
end
local expires = now + tonumber(ARGV[8])
local token = next_token(KEYS[2], now_us, expires)
local presumed = now < e.uu
local status, owner, lease, audit = 'in_flight', ARGV[6], num(now + tonumber(ARGV[7])), '[]'
if presumed then
  status, owner, lease = 'unknown', '', ''
  audit = '[{"at":' .. num(now) .. ',"action":"unknown","token":' .. num(token) ..
    ',"detail":"store reset: the store lost its records; an attempt before the loss may have executed"}]'
end
-- The new record's fields, written once to the record and once to its marker (the marker is gone by
-- now, see above), and echoed as the reply: no read-back of what was just written.
local fields = {'key', ARGV[1], 'scope', ARGV[2], 'status', status, 'fingerprint', ARGV[3],
  'method', ARGV[4], 'target', ARGV[5], 'createdAt', num(now), 'updatedAt', num(now), 'expiresAt', num(expires),
  'leaseOwner', owner, 'leaseUntil', lease, 'fencingToken', num(token),
  'attempts', '1', 'revision', '0', 'audit', audit}
if ARGV[9] ~= '' then
  fields[#fields + 1] = 'providerKey'
  fields[#fields + 1] = ARGV[9]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], num(expires))
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('PEXPIREAT', KEYS[3], num(expires + tonumber(ARGV[10])))
local out = {presumed and 'exists' or 'acquired', num(now)}
for i = 1, #fields do out[#out + 1] = fields[i] end
return with_epoch(out, e, true)
`;

/** KEYS: rec seq marker. ARGV: token owner responseJson ttlMs providerKey auditJson channel */
const complete = `
local now = clock()
local lost = owned(KEYS[1], ARGV[1], ARGV[2], now)
if lost then return {'lost', num(now), lost} end
local expires = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'completed', 'response', ARGV[3], 'leaseOwner', '', 'leaseUntil', '',
  'expiresAt', num(expires), 'updatedAt', num(now))
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'providerKey', ARGV[5]) end
push_audit(KEYS[1], ARGV[6])
redis.call('PEXPIREAT', KEYS[1], num(expires))
keep_sequence(KEYS[2], expires)
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[7], 'completed')
return reply('ok', now, KEYS[1], true)
`;

/** KEYS: rec seq marker. ARGV: token owner channel */
const release = `
local now = clock()
local lost = owned(KEYS[1], ARGV[1], ARGV[2], now)
if lost then return {'lost', num(now), lost} end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('PUBLISH', ARGV[3], 'released')
return {'ok', num(now)}
`;

/** KEYS: rec seq marker. ARGV: token owner leaseMs */
const extend = `
local now = clock()
local lost = owned(KEYS[1], ARGV[1], ARGV[2], now)
if lost then return {'lost', num(now), lost} end
local lease = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'leaseUntil', num(lease), 'updatedAt', num(now))
return {'ok', num(now), num(lease)}
`;

/** KEYS: rec seq marker. ARGV: token owner cause ttlMs graceMs channel */
const markUnknown = `
local now = clock()
local lost = owned(KEYS[1], ARGV[1], ARGV[2], now)
if lost then return {'lost', num(now), lost} end
local expires = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'unknown', 'leaseOwner', '', 'leaseUntil', '',
  'expiresAt', num(expires), 'updatedAt', num(now))
push_audit(KEYS[1], '{"at":' .. num(now) .. ',"action":"unknown","token":' .. ARGV[1] .. ',"detail":' .. cjson.encode(ARGV[3]) .. '}')
redis.call('PEXPIREAT', KEYS[1], num(expires))
keep_sequence(KEYS[2], expires)
mark(KEYS[3], KEYS[1], expires, ARGV[5])
redis.call('PUBLISH', ARGV[6], 'unknown')
return {'ok', num(now)}
`;

/**
 * KEYS: rec seq marker epoch.
 * ARGV: expectedToken expectedStatus owner leaseMs ttlMs fingerprint providerKey bumpRevision consumeGrant
 *       auditJson graceMs epochId epochGen freshEpochId resetRefuseMs resetUnknownMs
 * Refused unless the record still has the token and the status the caller saw: an owner that
 * completed after its lease expired keeps its token, so the token alone would not tell. Refused
 * too during the window after the store lost records (epoch).
 */
const takeOver = `
local now, now_us = clock()
local e = epoch_check(KEYS[4], ARGV[12], ARGV[13], ARGV[14], tonumber(ARGV[15]), tonumber(ARGV[16]), now)
if not live(KEYS[1], now) then return with_epoch({'gone', num(now)}, e, false) end
if now < e.ru then return with_epoch({'reset', num(now)}, e, false) end
local f = redis.call('HMGET', KEYS[1], 'status', 'fencingToken', 'leaseUntil')
local takeable = f[1] ~= 'in_flight' or (tonumber(f[3]) or 0) <= now
if f[2] ~= ARGV[1] or f[1] ~= ARGV[2] or not takeable then
  return with_epoch(reply('refused', now, KEYS[1]), e, false)
end
local expires = now + tonumber(ARGV[5])
local token = next_token(KEYS[2], now_us, expires)
redis.call('HSET', KEYS[1], 'status', 'in_flight', 'fencingToken', num(token), 'leaseOwner', ARGV[3],
  'leaseUntil', num(now + tonumber(ARGV[4])), 'expiresAt', num(expires), 'updatedAt', num(now))
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'fingerprint', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'providerKey', ARGV[7]) end
if ARGV[8] == '1' then redis.call('HINCRBY', KEYS[1], 'revision', 1) end
if ARGV[9] == '1' then redis.call('HDEL', KEYS[1], 'overrideGrant') end
push_audit(KEYS[1], '{"token":' .. num(token) .. ',' .. string.sub(ARGV[10], 2))
redis.call('PEXPIREAT', KEYS[1], num(expires))
mark(KEYS[3], KEYS[1], expires, ARGV[11])
return with_epoch(reply('won', now, KEYS[1]), e, true)
`;

/** KEYS: rec. */
const read = `
local now = clock()
if not live(KEYS[1], now) then return {'gone', num(now)} end
return reply('ok', now, KEYS[1])
`;

/**
 * KEYS: rec seq marker. ARGV: as(completed|absent) responseJson ttlMs auditJson channel expectedToken expectedStatus
 * A compare-and-set: only the record the operator inspected (same token and status) is changed.
 */
const resolve = `
local now, now_us = clock()
if not live(KEYS[1], now) then return {'gone', num(now)} end
local seen = redis.call('HMGET', KEYS[1], 'status', 'fencingToken')
if seen[2] ~= ARGV[6] or seen[1] ~= ARGV[7] then return {'changed', num(now), seen[1], seen[2]} end
if ARGV[1] == 'absent' then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('PUBLISH', ARGV[5], 'resolved')
  return {'deleted', num(now)}
end
local expires = now + tonumber(ARGV[3])
local token = next_token(KEYS[2], now_us, expires)
redis.call('HSET', KEYS[1], 'status', 'completed', 'response', ARGV[2], 'fencingToken', num(token),
  'leaseOwner', '', 'leaseUntil', '', 'expiresAt', num(expires), 'updatedAt', num(now))
push_audit(KEYS[1], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], num(expires))
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[5], 'resolved')
return reply('ok', now, KEYS[1])
`;

/** KEYS: rec. ARGV: grantJson auditJson expectedToken expectedStatus (a compare-and-set, as resolve) */
const grantOverride = `
local now = clock()
if not live(KEYS[1], now) then return {'gone', num(now)} end
local seen = redis.call('HMGET', KEYS[1], 'status', 'fencingToken')
if seen[2] ~= ARGV[3] or seen[1] ~= ARGV[4] then return {'changed', num(now), seen[1], seen[2]} end
redis.call('HSET', KEYS[1], 'overrideGrant', ARGV[1], 'updatedAt', num(now))
push_audit(KEYS[1], ARGV[2])
return reply('ok', now, KEYS[1])
`;

/** KEYS: marker rec. A marker whose record (with that token) is gone is handed back once, then deleted. */
const sweepMarker = `
local now = clock()
local token = redis.call('HGET', KEYS[1], 'fencingToken')
if not token or redis.call('HGET', KEYS[2], 'fencingToken') == token then return {'live', num(now)} end
local out = reply('expired', now, KEYS[1])
redis.call('DEL', KEYS[1])
return out
`;

/** KEYS: gone. Markers set aside by reserve (JSON arrays of field, value, …), handed back once. */
const sweepGone = `
local now = clock()
local out = {'expired', num(now)}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do out[#out + 1] = entry end
redis.call('DEL', KEYS[1])
return out
`;

/** Script name → [Lua body, number of KEYS]. Names become ioredis commands prefixed with `oncely`. */
export const SCRIPTS = {
  reserve: [reserve, 5],
  complete: [complete, 3],
  release: [release, 3],
  extend: [extend, 3],
  markUnknown: [markUnknown, 3],
  takeOver: [takeOver, 4],
  read: [read, 1],
  resolve: [resolve, 3],
  grantOverride: [grantOverride, 1],
  sweepMarker: [sweepMarker, 2],
  sweepGone: [sweepGone, 1],
} as const satisfies Record<string, readonly [string, number]>;

export type ScriptName = keyof typeof SCRIPTS;

export function scriptSource(name: ScriptName): string {
  return PRELUDE + SCRIPTS[name][0];
}

export function commandName(name: ScriptName): string {
  return `oncely${name[0]!.toUpperCase()}${name.slice(1)}`;
}
