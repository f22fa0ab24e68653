// Runs the seed's own web client code, unchanged: the VideoSyncManager class
// of shared/spec/websocket-events.md ("Implementation Example") is read out
// of the spec at run time, with the official realtime-js, the seed's channel
// config and a stand-in <video> element. Driven by seed_test.go.
//
// MODE=follower: reports every change the manager makes to the video.
// MODE=host: the page is the room's host (isHost, roomId set as a page
// would); stdin lines {"cmd":"play"|"pause"|"seek","to":N} act on the video
// as a person would, and the manager sends them through sync/control.
//
// Every line on stdout is JSON: {ev, t (wall ms), current_time, paused, ...}.
import { RealtimeClient } from '@supabase/realtime-js'
import WebSocket from 'ws'
import fs from 'node:fs'
import readline from 'node:readline'

const { SERVER_URL: url, API_KEY: apikey = 'anon', SPEC: specPath, ROOM: roomId, USER_ID: userId, MODE: mode } = process.env

const wall = () => performance.timeOrigin + performance.now()
const report = (ev, extra = {}) =>
  console.log(JSON.stringify({ ev, t: wall(), current_time: video.currentTime, paused: video.paused, ...extra }))

// The class exactly as the spec prints it.
const spec = fs.readFileSync(specPath, 'utf8')
const source = spec.split('```javascript').map((b) => b.split('```')[0]).find((b) => b.includes('class VideoSyncManager'))
if (!source) throw new Error('no VideoSyncManager in ' + specPath)
const VideoSyncManager = new Function(source + '\nreturn VideoSyncManager')()

// A stand-in for HTMLVideoElement: a clock that runs while playing. Like a
// real one, it refuses a non-finite currentTime (browsers throw a
// TypeError); every assignment is reported with its type.
class FakeVideo extends EventTarget {
  constructor() {
    super()
    this._pos = 0
    this._at = wall()
    this.paused = true
  }
  get currentTime() {
    return this.paused ? this._pos : this._pos + (wall() - this._at) / 1000
  }
  set currentTime(v) {
    const ok = typeof v === 'number' && Number.isFinite(v)
    if (ok) {
      this._pos = v
      this._at = wall()
    }
    report('set', { value: ok ? v : String(v), kind: typeof v, ok })
  }
  play() {
    if (this.paused) {
      this._at = wall()
      this.paused = false
      report('play')
      this.dispatchEvent(new Event('play'))
    }
    return Promise.resolve()
  }
  pause() {
    if (!this.paused) {
      this._pos = this.currentTime
      this.paused = true
      report('pause')
      this.dispatchEvent(new Event('pause'))
    }
  }
}
const video = new FakeVideo()

// A page calls '/functions/v1/sync/control' on its own origin, with the
// project's key as supabase-js would send it.
const realFetch = globalThis.fetch
globalThis.fetch = async (input, init = {}) => {
  const res = await realFetch(new URL(input, url + '/'), {
    ...init,
    headers: { 'content-type': 'application/json', apikey, authorization: 'Bearer ' + apikey, ...(init.headers || {}) },
  })
  report('control', { status: res.status, body: await res.clone().text() })
  return res
}

const client = new RealtimeClient(url + '/realtime/v1', { params: { apikey }, transport: WebSocket })
// The seed's channel config.
const channel = client.channel(`room:${roomId}`, {
  config: { broadcast: { self: true }, presence: { key: userId } },
})
const manager = new VideoSyncManager(channel, userId, video)
if (mode === 'host') {
  manager.isHost = true
  manager.roomId = roomId // the sample never sets it; a page would
}
channel.subscribe((status) => {
  if (status === 'SUBSCRIBED') {
    manager.startPresenceTracking()
    report('subscribed')
  }
})

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line)
  switch (m.cmd) {
    case 'play':
      video.play()
      break
    case 'pause':
      video.pause()
      break
    case 'seek':
      video.currentTime = m.to
      video.dispatchEvent(new Event('seek'))
      break
    case 'state':
      break
    case 'quit':
      manager.stopPresenceTracking()
      channel.unsubscribe().then(() => process.exit(0))
      return
  }
  report('done', { cmd: m.cmd })
})
