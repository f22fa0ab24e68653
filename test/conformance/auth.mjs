// Identity with the real @supabase/realtime-js against `watchium-tui serve`
// (tokens living 3 s): a user token from /auth/v1/signup joins; a forged one
// is refused; a channel whose token is refreshed with setAuth outlives it,
// and one whose token is not gets the system message and is closed.
// Driven by auth_test.go; one JSON line per step, exit 0 on success.
import { RealtimeClient } from '@supabase/realtime-js'
import WebSocket from 'ws'
import assert from 'node:assert/strict'

const url = process.env.SERVER_URL
const apikey = process.env.API_KEY || 'anon'
const room = 'room:auth'
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

const client = () => new RealtimeClient(url + '/realtime/v1', { params: { apikey }, transport: WebSocket, heartbeatIntervalMs: 1000 })

// What supabase-js sends for signInAnonymously() and refreshSession().
async function auth(path, body) {
  const res = await fetch(url + '/auth/v1' + path, {
    method: 'POST',
    headers: { apikey, Authorization: 'Bearer ' + apikey, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = await res.json()
  assert.equal(res.status, 200, JSON.stringify(json))
  return json
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())

// subscribe resolves with the final status of the first subscribe outcome.
function subscribe(ch) {
  return new Promise((resolve) => {
    ch.subscribe((status, err) => {
      if (status === 'SUBSCRIBED' || status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') resolve({ status, err })
    })
  })
}

async function main() {
  const first = await auth('/signup', { data: {}, gotrue_meta_security: {} })
  assert.equal(first.user.is_anonymous, true)
  assert.equal(claims(first.access_token).sub, first.user.id)

  // A user token joins.
  const kept = client()
  await kept.setAuth(first.access_token)
  const keptCh = kept.channel(room, { config: { broadcast: { ack: true } } })
  const keptSystem = []
  keptCh.on('system', {}, (p) => keptSystem.push(p))
  const joined = await subscribe(keptCh)
  assert.equal(joined.status, 'SUBSCRIBED', String(joined.err))
  step('user-token-joins')

  // A forged token (another signature) is refused, not treated as anon.
  const forged = first.access_token.slice(0, -6) + (first.access_token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA')
  const bad = client()
  await bad.setAuth(forged)
  const refused = await subscribe(bad.channel(room + '-bad'))
  assert.equal(refused.status, 'CHANNEL_ERROR')
  assert.match(String(refused.err && refused.err.message || refused.err), /JWT|Jwt/)
  bad.disconnect()
  step('forged-token-refused')

  // Another member keeps the first token and never refreshes it.
  const stale = client()
  await stale.setAuth(first.access_token)
  const staleCh = stale.channel(room)
  const staleSystem = []
  let staleClosed = false
  staleCh.on('system', {}, (p) => staleSystem.push(p))
  const staleJoined = new Promise((resolve) => staleCh.subscribe((status) => {
    if (status === 'SUBSCRIBED') resolve()
    if (status === 'CLOSED') staleClosed = true
  }))
  await staleJoined

  // Refresh once the clock has moved past the first token's second, so the
  // new token expires later; push it with setAuth.
  await until('a new second', () => Math.floor(Date.now() / 1000) > claims(first.access_token).iat, 3000)
  const next = await auth('/token?grant_type=refresh_token', { refresh_token: first.refresh_token })
  assert.notEqual(next.refresh_token, first.refresh_token)
  assert.ok(claims(next.access_token).exp > claims(first.access_token).exp)
  await kept.setAuth(next.access_token)

  await until('the stale channel expires', () => staleSystem.find((p) => /Token has expired/.test(p.message)))
  await until('the stale channel closes', () => staleClosed || staleCh.state === 'closed')
  step('expired-channel-closed')

  assert.equal(await keptCh.send({ type: 'broadcast', event: 'still-here', payload: {} }), 'ok')
  assert.ok(!keptSystem.find((p) => p.status === 'error'), 'refreshed channel got ' + JSON.stringify(keptSystem))
  step('refreshed-channel-alive')

  kept.disconnect()
  stale.disconnect()
  step('done')
}

main().then(() => process.exit(0), (e) => {
  console.error('FAIL:', e && e.stack || e)
  process.exit(1)
})
