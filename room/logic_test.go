package room

import (
	"math"
	"testing"
	"time"
)

func TestClockSyncTrustsFastestExchange(t *testing.T) {
	c := NewClockSync(8)
	if _, _, ok := c.Offset(); ok {
		t.Fatal("offset before any sample")
	}
	// Host clock is 100 ms ahead. One exchange was delayed 30 ms on the way
	// back (asymmetric), one was quick and symmetric.
	now := time.Now()
	c.Add(1000, 1105, 1106, 1041, now) // slow return
	c.Add(2000, 2102, 2103, 2005, now) // 2 ms each way
	off, rtt, _ := c.Offset()
	if math.Abs(off-100) > 0.01 || math.Abs(rtt-4) > 0.01 {
		t.Fatalf("offset %.2f rtt %.2f, want 100 and 4", off, rtt)
	}
	for _, bad := range [][4]float64{{math.NaN(), 1, 2, 3}, {10, 5, 4, 20}, {10, 11, 12, 5}} {
		if c.Add(bad[0], bad[1], bad[2], bad[3], now) {
			t.Errorf("accepted impossible sample %v", bad)
		}
	}
	for i := 0; i < 20; i++ {
		c.Add(float64(i), float64(i)+150, float64(i)+150, float64(i)+100, now)
	}
	if c.Len() != 8 {
		t.Fatalf("kept %d samples, want 8", c.Len())
	}
}

func TestTrackerUsesLeastDelayedStep(t *testing.T) {
	var tr Tracker
	t0 := time.Unix(1000, 0)
	tr.Reset(stateAt(10, false))
	// 100 fps frame steps; the third arrived 4 ms late.
	tr.Observe(10.00, t0)
	tr.Observe(10.01, t0.Add(10*time.Millisecond))
	tr.Observe(10.02, t0.Add(24*time.Millisecond))
	got, _ := tr.Estimate(t0.Add(25 * time.Millisecond))
	if math.Abs(got-10.025) > 0.0005 {
		t.Fatalf("estimate %.4f, want 10.025", got)
	}
	tr.SetPaused(true, 10.02)
	if got, _ := tr.Estimate(t0.Add(time.Second)); got != 10.02 {
		t.Fatalf("paused estimate %.4f", got)
	}
	// A backwards step (a seek we did not hear about) starts a new line.
	tr.SetPaused(false, 10.02)
	tr.Observe(10.03, t0.Add(30*time.Millisecond))
	tr.Observe(5.00, t0.Add(40*time.Millisecond))
	if got, _ := tr.Estimate(t0.Add(40 * time.Millisecond)); math.Abs(got-5) > 0.0005 {
		t.Fatalf("after jump back %.4f", got)
	}
}

// plant simulates a follower's player whose speed takes effect after a lag,
// as mpv's does.
type plant struct {
	pos, speed float64
	queue      []struct {
		at time.Time
		s  float64
	}
}

func (p *plant) step(now time.Time, dt time.Duration) {
	for len(p.queue) > 0 && !p.queue[0].at.After(now) {
		p.speed = p.queue[0].s
		p.queue = p.queue[1:]
	}
	p.pos += (p.speed - 1) * dt.Seconds() // error relative to a host at speed 1
}

func TestControllerConvergesWithoutOscillating(t *testing.T) {
	for _, start := range []float64{0.05, -0.05, 0.2, -0.24, 0.5, -1.5, 2.9} {
		// Errors beyond SeekAbove are met by one seek-ahead, which lands
		// within about a frame; speed removes the rest.
		wantSeeks := 0
		if math.Abs(start) > DefaultDriftController().SeekAbove {
			wantSeeks = 1
		}
		c := DefaultDriftController()
		p := &plant{pos: start, speed: 1}
		now := time.Unix(0, 0)
		lag := 300 * time.Millisecond // worse than the controller assumes
		var seeks, crossings int
		prevSign := math.Signbit(p.pos)
		for i := 0; i < 1200; i++ { // 120 s of 100 ms ticks
			act := c.Update(now, p.pos)
			if act.Seek {
				seeks++
				p.pos = 0.02
			}
			if act.Speed != 0 {
				p.queue = append(p.queue, struct {
					at time.Time
					s  float64
				}{now.Add(lag), act.Speed})
			}
			for j := 0; j < 10; j++ {
				p.step(now, 10*time.Millisecond)
				now = now.Add(10 * time.Millisecond)
			}
			if s := math.Signbit(p.pos); s != prevSign && math.Abs(p.pos) > 0.004 {
				crossings++
				prevSign = s
			}
		}
		if seeks != wantSeeks {
			t.Errorf("start %+.2f s: %d seeks, want %d", start, seeks, wantSeeks)
		}
		if math.Abs(p.pos) > 0.006 {
			t.Errorf("start %+.2f s: ended %.1f ms off", start, p.pos*1000)
		}
		if crossings > 2 {
			t.Errorf("start %+.2f s: crossed zero by more than 4 ms %d times (oscillating)", start, crossings)
		}
		if p.speed != 1 && math.Abs(p.pos) < 0.002 {
			t.Errorf("start %+.2f s: still at speed %.3f once in sync", start, p.speed)
		}
	}
}

func TestControllerSeeksLargeErrorsOnce(t *testing.T) {
	c := DefaultDriftController()
	now := time.Unix(0, 0)
	seeks := 0
	for i := 0; i < 10; i++ {
		if c.Update(now, 8).Seek {
			seeks++
		}
		now = now.Add(100 * time.Millisecond)
	}
	if seeks != 1 {
		t.Fatalf("%d seeks for a steady 8 s error over 1 s, want 1 (cooldown)", seeks)
	}
	if a := c.Update(now, math.NaN()); a.Seek || a.Speed != 0 {
		t.Fatal("acted on NaN")
	}
}

func TestValidTimeAndEnvelope(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.5} {
		if ValidTime(bad) == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if ValidTime(0) != nil || ValidTime(7200.5) != nil {
		t.Error("valid time refused")
	}
	if ClockString(3725) != "1:02:05" || ClockString(61) != "1:01" || ClockString(math.NaN()) != "?" {
		t.Error("ClockString")
	}
}

func TestSeekCostExpectsASlowSeek(t *testing.T) {
	var c seekCost
	if c.expect() != defaultSeekCost {
		t.Fatalf("no seeks yet: %v", c.expect())
	}
	for _, ms := range []int{300, 100} {
		c.add(time.Duration(ms) * time.Millisecond)
	}
	if c.expect() != 0.3 {
		t.Fatalf("two seeks: expect %v, want the slowest", c.expect())
	}
	for _, ms := range []int{200, 400, 500, 600, 700, 800, 900, 1000} {
		c.add(time.Duration(ms) * time.Millisecond)
	}
	// The window keeps the last 8: 300…1000; the third slowest is 0.8.
	if c.expect() != 0.8 {
		t.Fatalf("expect %v, want 0.8", c.expect())
	}
	c.reset()
	if c.expect() != defaultSeekCost {
		t.Fatal("reset kept old seeks")
	}
}
