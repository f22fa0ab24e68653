package room

import (
	"math"
	"time"
)

// ClockSync estimates the offset between this machine's clock and the
// host's from NTP-style probes, trusting the sample with the least round
// trip (queueing only ever adds delay, so the fastest exchange is the most
// symmetric one).
type ClockSync struct {
	samples []clockSample
	max     int
}

type clockSample struct {
	offset, delay float64 // ms
	at            time.Time
}

// NewClockSync keeps the last n samples.
func NewClockSync(n int) *ClockSync { return &ClockSync{max: n} }

// Add records one exchange: t0 sent here, t1 received at the host, t2 sent
// by the host, t3 received here, all in ms since the epoch on each side's
// clock. It returns false for impossible samples.
func (c *ClockSync) Add(t0, t1, t2, t3 float64, at time.Time) bool {
	for _, v := range []float64{t0, t1, t2, t3} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	delay := (t3 - t0) - (t2 - t1)
	if delay < 0 || t3 < t0 || t2 < t1 {
		return false
	}
	c.samples = append(c.samples, clockSample{offset: ((t1 - t0) + (t2 - t3)) / 2, delay: delay, at: at})
	if len(c.samples) > c.max {
		c.samples = c.samples[len(c.samples)-c.max:]
	}
	return true
}

// Reset forgets every sample (the host changed).
func (c *ClockSync) Reset() { c.samples = c.samples[:0] }

// Offset is host clock minus local clock in ms, and the round trip of the
// sample it came from; ok is false before the first sample.
func (c *ClockSync) Offset() (offset, rtt float64, ok bool) {
	if len(c.samples) == 0 {
		return 0, 0, false
	}
	best := c.samples[0]
	for _, s := range c.samples[1:] {
		if s.delay < best.delay {
			best = s
		}
	}
	return best.offset, best.delay, true
}

// Len is how many samples are held.
func (c *ClockSync) Len() int { return len(c.samples) }

// wallMS is a wall-clock time in fractional ms since the epoch, the unit
// of every timestamp on the wire.
func wallMS(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }
