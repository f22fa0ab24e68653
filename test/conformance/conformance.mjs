// Conformance of watchium-tui's embedded server with the real
// @supabase/realtime-js. Driven by conformance_test.go, which starts
// `watchium-tui serve`, runs a Go client in the same room (key "go": it
// answers every "ping" broadcast with a "pong" carrying the same payload),
// and restarts the server when this script prints "RESTART".
//
// Protocol with the Go side: one JSON line per step on stdout
// ({"step":…}), "RESTART" to ask for a restart (answered "RESTARTED"), then
// "CHECKED" once the Go side saw everyone back; exit code 0 on success.
import { RealtimeClient } from '@supabase/realtime-js'
import WebSocket from 'ws'
import assert from 'node:assert/strict'
import readline from 'node:readline'

const url = process.env.SERVER_URL
const apikey = process.env.API_KEY || 'anon'
const room = process.env.ROOM || 'room:conformance'
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

function client() {
  return new RealtimeClient(url + '/realtime/v1', {
    params: { apikey },
    transport: WebSocket,
    heartbeatIntervalMs: 1000,
    reconnectAfterMs: () => 200,
  })
}

// realtime-js does not re-track after a rejoin; apps track on every
// SUBSCRIBED, which is what this does.
function subscribe(ch, presence) {
  return new Promise((resolve, reject) => {
    ch.subscribe(async (status, err) => {
      if (status === 'SUBSCRIBED') {
        try {
          assert.equal(await ch.track(presence), 'ok')
        } catch (e) {
          return reject(e)
        }
        resolve()
      } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err || new Error(status))
    })
  })
}

const stdin = readline.createInterface({ input: process.stdin })
const restarted = new Promise((resolve) => stdin.on('line', (l) => { if (l.trim() === 'RESTARTED') resolve() }))
// The Go side checks everyone's presence after the restart before js2 leaves.
const checked = new Promise((resolve) => stdin.on('line', (l) => { if (l.trim() === 'CHECKED') resolve() }))

async function main() {
  const c1 = client()
  const c2 = client()
  const got1 = [], got2 = []
  const ch1 = c1.channel(room, { config: { broadcast: { self: true, ack: true }, presence: { key: 'js1' } } })
  const ch2 = c2.channel(room, { config: { broadcast: { self: false }, presence: { key: 'js2' } } })
  const events1 = { join: [], leave: [], sync: 0 }
  ch1.on('broadcast', { event: '*' }, (m) => got1.push(m))
  ch2.on('broadcast', { event: '*' }, (m) => got2.push(m))
  ch1.on('presence', { event: 'sync' }, () => { events1.sync++ })
  ch1.on('presence', { event: 'join' }, ({ key }) => events1.join.push(key))
  ch1.on('presence', { event: 'leave' }, ({ key }) => events1.leave.push(key))
  ch2.on('presence', { event: 'sync' }, () => {})
  const changes = []
  ch1.on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'comments', filter: 'room_id=eq.conformance' }, (p) => changes.push(p))
  await subscribe(ch1, { name: 'js one' })
  await subscribe(ch2, { name: 'js two' })
  step('subscribed')

  // Presence: both JS clients and the Go client.
  await until('presence of js1, js2 and go', () => {
    const s = ch1.presenceState()
    return s.js1 && s.js2 && s.go
  })
  const st = ch1.presenceState()
  assert.equal(st.js2[0].name, 'js two')
  assert.ok(st.js2[0].presence_ref, 'presence_ref is set')
  assert.ok(events1.join.includes('js2') && events1.join.includes('go'), 'join events fired: ' + events1.join)
  assert.ok(events1.sync > 0)
  step('presence')

  // Broadcast with self and ack (binary kind-3 frames on vsn 2.0.0).
  assert.equal(await ch1.send({ type: 'broadcast', event: 'hello', payload: { n: 1, s: 'wörld' } }), 'ok')
  await until('self echo on js1', () => got1.find((m) => m.event === 'hello'))
  await until('js2 receives hello', () => got2.find((m) => m.event === 'hello'))
  assert.deepEqual(got2.find((m) => m.event === 'hello').payload, { n: 1, s: 'wörld' })
  // self:false: js2's own message must not come back to js2.
  assert.equal(await ch2.send({ type: 'broadcast', event: 'from2', payload: { k: 2 } }), 'ok')
  await until('js1 receives from2', () => got1.find((m) => m.event === 'from2'))
  assert.equal(await ch1.send({ type: 'broadcast', event: 'marker', payload: {} }), 'ok')
  await until('marker at js2', () => got2.find((m) => m.event === 'marker'))
  assert.equal(got2.filter((m) => m.event === 'from2').length, 0, 'self:false echoed')
  step('broadcast')

  // JS → Go → JS.
  assert.equal(await ch1.send({ type: 'broadcast', event: 'ping', payload: { nonce: 42 } }), 'ok')
  const pong = await until('pong from go', () => got2.find((m) => m.event === 'pong'))
  assert.deepEqual(pong.payload, { nonce: 42 })
  step('go-roundtrip')

  // HTTP broadcast (the single-event endpoint).
  const res = await ch1.httpSend('viahttp', { h: 1 })
  assert.equal(res.success, true)
  await until('http broadcast at js2', () => got2.find((m) => m.event === 'viahttp'))
  step('http-broadcast')

  // postgres_changes: a comment inserted over REST reaches the listener,
  // converted by column type; one for another room does not.
  const insert = (room, content) => fetch(url + '/rest/v1/comments', {
    method: 'POST',
    headers: { apikey, 'Content-Type': 'application/json', Prefer: 'return=representation' },
    body: JSON.stringify({ room_id: room, user_id: 'js1', username: 'js one', content }),
  })
  assert.equal((await insert('elsewhere', 'not for us')).status, 201)
  const res2 = await insert('conformance', 'from rest')
  assert.equal(res2.status, 201)
  const [row] = await res2.json()
  const change = await until('postgres_changes INSERT', () => changes.find((c) => c.new.content === 'from rest'))
  assert.equal(change.eventType, 'INSERT')
  assert.equal(change.table, 'comments')
  assert.equal(change.new.id, row.id)
  assert.equal(change.new.is_system_message, false)
  assert.ok(!changes.find((c) => c.new.content === 'not for us'), 'filter let another room through')
  step('postgres-changes')

  // Server restart: clients come back by themselves, presence restored.
  const before = events1.sync
  console.log('RESTART')
  await restarted
  await until('presence restored after restart', () => {
    const s = ch1.presenceState()
    return events1.sync > before && s.js1 && s.js2 && s.go
  }, 20000)
  assert.equal(await ch1.send({ type: 'broadcast', event: 'after', payload: { ok: true } }), 'ok')
  await until('js2 receives after restart', () => got2.find((m) => m.event === 'after'))
  step('restart')
  await checked

  // Leave: js1 sees js2's leave.
  await ch2.unsubscribe()
  await until('js2 leave seen', () => events1.leave.includes('js2') && !ch1.presenceState().js2)
  step('leave')

  c1.disconnect()
  c2.disconnect()
  stdin.close()
  step('done')
}

main().then(() => process.exit(0), (e) => {
  console.error('FAIL:', e && e.stack || e)
  process.exit(1)
})
