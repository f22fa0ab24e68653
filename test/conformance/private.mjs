// Private rooms with the real @supabase/realtime-js against `watchium-tui
// serve`: the owner creates one (POST /rest/v1/rpc/create_private_room, as
// supabase-js .rpc() sends it) and joins it with config.private; an outsider
// with a valid anonymous token is refused the private and the public
// channel of that name; a friend who redeems the invite (join_room) joins,
// receives the owner's broadcasts and sees its presence; kicked
// (kick_member), it gets a system error and its channel closes.
// Driven by private_test.go; one JSON line per step, exit 0 on success.
import { RealtimeClient } from '@supabase/realtime-js'
import WebSocket from 'ws'
import assert from 'node:assert/strict'

const url = process.env.SERVER_URL
const apikey = process.env.API_KEY || 'anon'
const room = 'room:den'
const TIMEOUT = 10000

const step = (name, extra = {}) => console.log(JSON.stringify({ step: name, ...extra }))

function until(what, pred, ms = TIMEOUT) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const tick = () => {
      let v
      try { v = pred() } catch (e) { return reject(e) }
      if (v) return resolve(v)
      if (Date.now() - started > ms) return reject(new Error('timed out waiting for ' + what))
      setTimeout(tick, 10)
    }
    tick()
  })
}

async function post(path, token, body) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { apikey, Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: await res.json().catch(() => null) }
}

const signUp = async () => (await post('/auth/v1/signup', apikey, { data: {} })).json
const rpc = (token, fn, args) => post('/rest/v1/rpc/' + fn, token, args)

async function member(token, priv) {
  const c = new RealtimeClient(url + '/realtime/v1', { params: { apikey }, transport: WebSocket })
  await c.setAuth(token)
  const ch = c.channel(room, { config: { private: priv, broadcast: { self: false } } })
  const got = { broadcasts: [], system: [], closed: false }
  ch.on('broadcast', { event: '*' }, (m) => got.broadcasts.push(m))
  ch.on('system', {}, (p) => got.system.push(p))
  const outcome = await new Promise((resolve) => ch.subscribe((status, err) => {
    if (status === 'CLOSED') got.closed = true
    if (status === 'SUBSCRIBED' || status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') resolve({ status, err })
  }))
  return { c, ch, got, outcome }
}

async function main() {
  const owner = await signUp(), friend = await signUp(), outsider = await signUp()
  const created = await rpc(owner.access_token, 'create_private_room', { p_room_id: 'den' })
  assert.equal(created.status, 200, JSON.stringify(created.json))
  const invite = created.json.invite
  assert.ok(invite && invite.length >= 20)
  const o = await member(owner.access_token, true)
  assert.equal(o.outcome.status, 'SUBSCRIBED', String(o.outcome.err))
  await o.ch.track({ user_id: owner.user.id, username: 'owner' })
  step('owner-joined')

  for (const priv of [true, false]) {
    const x = await member(outsider.access_token, priv)
    assert.equal(x.outcome.status, 'CHANNEL_ERROR', 'outsider private=' + priv)
    assert.match(String(x.outcome.err && x.outcome.err.message || x.outcome.err), /Unauthorized/)
    x.c.disconnect()
  }
  const sneaky = await rpc(outsider.access_token, 'join_room', { p_room_id: 'den', p_invite: null })
  assert.equal(sneaky.status, 403)
  step('outsider-refused')

  const redeemed = await rpc(friend.access_token, 'join_room', { p_room_id: 'den', p_invite: invite })
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.json))
  const f = await member(friend.access_token, true)
  assert.equal(f.outcome.status, 'SUBSCRIBED', String(f.outcome.err))
  await until('the owner in the friend\'s presence', () => Object.keys(f.ch.presenceState()).includes(owner.user.id))
  assert.equal(await o.ch.send({ type: 'broadcast', event: 'new_comment', payload: { content: 'welcome' } }), 'ok')
  await until('the owner\'s broadcast', () => f.got.broadcasts.find((m) => m.event === 'new_comment'))
  step('friend-joined')

  const kicked = await rpc(owner.access_token, 'kick_member', { p_room_id: 'den', p_user_id: friend.user.id })
  assert.equal(kicked.status, 200, JSON.stringify(kicked.json))
  const at = Date.now()
  await until('the friend cut off', () => f.got.system.find((p) => p.status === 'error' && /removed/.test(p.message)) && (f.got.closed || f.ch.state === 'closed'), 1000)
  step('friend-kicked', { ms: Date.now() - at })

  o.c.disconnect()
  f.c.disconnect()
  step('done')
}

main().then(() => process.exit(0), (e) => {
  console.error('FAIL:', e && e.stack || e)
  process.exit(1)
})
