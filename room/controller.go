package room

import (
	"math"
	"time"
)

// DriftController turns the follower's error against the host (own − host, in
// seconds) into an action: nothing, a new playback speed, or an exact seek.
// Small errors are nudged away with speed, which nobody sees; only large ones
// are seeked. Hysteresis and a minimum interval between speed changes keep it
// from oscillating (mpv applies a new speed only after its audio buffer
// drains, a few hundred ms later).
type DriftController struct {
	// Enter starts correcting when |error| exceeds it; Exit stops once
	// |error| is back under it.
	Enter, Exit float64
	// Tau is the time constant: speed = 1 − error/Tau.
	Tau float64
	// MaxAdjust bounds |speed − 1| for errors under FastBelow; FastAdjust
	// above it.
	MaxAdjust, FastAdjust, FastBelow float64
	// SeekAbove is the error beyond which only a seek will do.
	SeekAbove float64
	// MinInterval is the least time between two speed changes.
	MinInterval time.Duration
	// SeekCooldown is the least time between two corrective seeks.
	SeekCooldown time.Duration
	// Lag is how long mpv takes to move at a new speed (its audio buffer
	// still plays at the old one). Speed changes still on their way are
	// counted as if done, so the controller does not overshoot.
	Lag time.Duration

	correcting bool
	speed      float64
	lastChange time.Time
	lastSeek   time.Time
	seeks      int // seeks in a row without the error coming down
	window     []float64
	pending    []speedChange
}

type speedChange struct {
	at       time.Time
	from, to float64
}

// DefaultDriftController is tuned from the mpv measurements in
// shared/docs/mpv-ipc.md: frame steps of 10–40 ms, speed taking effect
// 170–360 ms late, exact seeks landing in 10–40 ms.
func DefaultDriftController() *DriftController {
	return &DriftController{
		Enter: 0.006, Exit: 0.002, Tau: 1.0,
		// ±10 % from 0.1 s removes up to 0.25 s in 2.5 s; beyond that a
		// seek-ahead (or a hold) fixes it in about one seek time.
		MaxAdjust: 0.05, FastAdjust: 0.10, FastBelow: 0.1,
		SeekAbove:    0.25,
		MinInterval:  150 * time.Millisecond,
		SeekCooldown: 1500 * time.Millisecond,
		Lag:          250 * time.Millisecond,
		speed:        1,
	}
}

// Action is what the controller asks for.
type Action struct {
	Seek  bool
	Speed float64 // 0: leave the speed alone
}

// Reset forgets history, e.g. after a discontinuity the follower applied.
func (c *DriftController) Reset(now time.Time, seeked bool) {
	c.window = c.window[:0]
	c.pending = c.pending[:0]
	c.correcting = false
	if seeked {
		c.lastSeek = now
	}
}

// Speed is the speed the controller last asked for.
func (c *DriftController) Speed() float64 { return c.speed }

// ForceSpeed records a speed set by someone else (a reset to 1.0).
func (c *DriftController) ForceSpeed(s float64) {
	c.speed = s
	c.pending = c.pending[:0]
}

// predict adds the part of recent speed changes that has not shown yet.
func (c *DriftController) predict(now time.Time, e float64) float64 {
	kept := c.pending[:0]
	for _, p := range c.pending {
		left := c.Lag - now.Sub(p.at)
		if left <= 0 {
			continue
		}
		e += (p.to - p.from) * left.Seconds()
		kept = append(kept, p)
	}
	c.pending = kept
	return e
}

const (
	// errorWindow errors are kept, and their median acted on: one late
	// frame step (a 10–40 ms reading delay) then moves nothing.
	errorWindow = 3
	// seekAfterSamples: a seek needs this many large errors in a row, so
	// a single bad reading never costs a visible jump.
	seekAfterSamples = 2
	// firstSeekSooner: the first corrective seek after a quiet spell waits
	// only a third of SeekCooldown; repeated ones wait the whole of it,
	// doubled each time.
	firstSeekSooner = 3
)

// Error is the median of the last few errors: one late frame step must not
// trigger a correction.
func (c *DriftController) Error() (float64, bool) {
	if len(c.window) == 0 {
		return 0, false
	}
	s := append([]float64(nil), c.window...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2], true
}

// Update feeds one error sample and returns the action to take.
func (c *DriftController) Update(now time.Time, err float64) Action {
	if math.IsNaN(err) || math.IsInf(err, 0) {
		return Action{}
	}
	c.window = append(c.window, err)
	if len(c.window) > errorWindow {
		c.window = c.window[1:]
	}
	e, _ := c.Error()
	e = c.predict(now, e)
	abs := math.Abs(e)
	if abs <= c.SeekAbove {
		c.seeks = 0
	}
	// Each seek that did not fix things doubles the wait before the next,
	// so a player that will not follow is not fought forever.
	cooldown := c.SeekCooldown << min(c.seeks, 6)
	if abs > c.SeekAbove && len(c.window) >= seekAfterSamples && (c.seeks == 0 && now.Sub(c.lastSeek) > c.SeekCooldown/firstSeekSooner || now.Sub(c.lastSeek) > cooldown) {
		c.lastSeek = now
		c.seeks++
		c.window = c.window[:0]
		c.correcting = false
		return Action{Seek: true, Speed: c.set(now, 1)}
	}
	switch {
	case !c.correcting && abs > c.Enter:
		c.correcting = true
	case c.correcting && abs < c.Exit:
		c.correcting = false
	}
	want := 1.0
	if c.correcting {
		limit := c.MaxAdjust
		if abs > c.FastBelow {
			limit = c.FastAdjust
		}
		want = 1 - clamp(e/c.Tau, -limit, limit)
	}
	// Small changes are not worth a command, except the return to exactly 1.
	if want != 1 && math.Abs(want-c.speed) < 0.002 {
		return Action{}
	}
	if want == c.speed || now.Sub(c.lastChange) < c.MinInterval && want != 1 {
		return Action{}
	}
	return Action{Speed: c.set(now, want)}
}

func (c *DriftController) set(now time.Time, s float64) float64 {
	if s == c.speed {
		return 0
	}
	c.pending = append(c.pending, speedChange{at: now, from: c.speed, to: s})
	c.speed = s
	c.lastChange = now
	return s
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
