package room

import (
	"time"

	"github.com/watchium/watchium-tui/player"
)

// Tracker estimates where a player really is between frames. mpv reports
// playback-time once per displayed frame, so a single reading can be a whole
// frame stale; the moment a new value arrives, though, the player is at that
// value. Over the last few frame steps, the step that arrived with the least
// delay gives the best line, so the estimate is the highest projection.
type Tracker struct {
	samples []posSample
	speed   float64
	paused  bool
	pos     float64 // while paused, or before any step
	valid   bool
}

type posSample struct {
	pos float64
	at  time.Time
}

const trackerWindow = 6

// Reset starts a new segment: after a seek, pause, unpause or speed change
// old steps no longer lie on the current line.
func (t *Tracker) Reset(st player.State) {
	t.samples = t.samples[:0]
	t.speed = st.Speed
	if t.speed <= 0 {
		t.speed = 1
	}
	t.paused = st.Paused
	t.pos = st.Pos
	t.valid = st.Loaded
}

// Observe feeds one position event.
func (t *Tracker) Observe(pos float64, at time.Time) {
	if n := len(t.samples); n > 0 && pos < t.samples[n-1].pos {
		t.samples = t.samples[:0] // went backwards: a seek we have not heard of yet
	}
	t.samples = append(t.samples, posSample{pos, at})
	if len(t.samples) > trackerWindow {
		t.samples = t.samples[1:]
	}
	t.pos = pos
	t.valid = true
}

// SetSpeed records a new playback rate; steps before it stay usable for
// a while because mpv changes rate smoothly, but the line restarts.
func (t *Tracker) SetSpeed(speed float64) {
	if speed > 0 {
		if n := len(t.samples); n > 0 {
			t.samples = t.samples[n-1:]
		}
		t.speed = speed
	}
}

// SetPaused records pause state; a paused player sits at pos.
func (t *Tracker) SetPaused(paused bool, pos float64) {
	t.paused = paused
	t.pos = pos
	t.samples = t.samples[:0]
}

// Estimate is the position at now, and whether there is one.
func (t *Tracker) Estimate(now time.Time) (float64, bool) {
	if !t.valid {
		return 0, false
	}
	if t.paused || len(t.samples) == 0 {
		return t.pos, true
	}
	best := -1e18
	for _, s := range t.samples {
		if p := s.pos + t.speed*now.Sub(s.at).Seconds(); p > best {
			best = p
		}
	}
	return best, true
}

// Latest is when the newest frame step arrived (zero without one).
func (t *Tracker) Latest() time.Time {
	if len(t.samples) == 0 {
		return time.Time{}
	}
	return t.samples[len(t.samples)-1].at
}

// Steps is how many frame steps back the current estimate.
func (t *Tracker) Steps() int { return len(t.samples) }
