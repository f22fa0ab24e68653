package player

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

// Run with: go test -run '^$' -bench . ./player/
// ns/op is not meaningful here (some loops wait on purpose); read the
// reported percentiles.
// Drift (90 s): WATCHIUM_LONG=1 go test -run '^$' -bench Drift -benchtime 1x ./player/

// report adds p50/p95/p99 of samples (in unit) to the benchmark output.
func report(b *testing.B, samples []float64, unit string) {
	b.Helper()
	if len(samples) == 0 {
		return
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	for _, p := range []float64{50, 95, 99} {
		b.ReportMetric(s[int(math.Ceil(p/100*float64(len(s))))-1], "p"+fmtPct(p)+"-"+unit)
	}
}

func fmtPct(p float64) string { return string(rune('0'+int(p)/10)) + string(rune('0'+int(p)%10)) }

// benchCtx outlives long runs; each request still fails fast if mpv dies.
func benchCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func BenchmarkRoundTrip(b *testing.B) {
	m := launchTest(b, false)
	ctx := benchCtx(b)
	var rtt []float64
	for b.Loop() {
		t0 := time.Now()
		if _, err := m.Position(ctx); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, float64(time.Since(t0))/float64(time.Microsecond))
	}
	report(b, rtt, "µs")
}

// BenchmarkSeekToRestart times Seek (command to the playback-restart and the
// read of the frame shown) and how far from the target it lands.
func BenchmarkSeekToRestart(b *testing.B) {
	for _, playing := range []bool{false, true} {
		name := "paused"
		if playing {
			name = "playing"
		}
		b.Run(name, func(b *testing.B) {
			m := launchTest(b, playing)
			ctx := benchCtx(b)
			rng := rand.New(rand.NewPCG(1, 2))
			var lat, miss []float64
			for b.Loop() {
				target := 2 + rng.Float64()*45
				if playing {
					randomPhase(rng)
				}
				drain(m)
				t0 := time.Now()
				if err := m.Seek(ctx, target); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, ms(time.Since(t0)))
				miss = append(miss, (waitEvent(b, m, EventSeeked).Position-target)*1000)
			}
			report(b, lat, "ms")
			report(b, miss, "land-ms")
		})
	}
}

// BenchmarkUnpauseToMoving times Play until the first frame step arrives
// (the first EventPosition that moved), i.e. when a peer can see we started.
func BenchmarkUnpauseToMoving(b *testing.B) {
	m := launchTest(b, false)
	ctx := benchCtx(b)
	rng := rand.New(rand.NewPCG(3, 4))
	var toEvent, toMove []float64
	for b.Loop() {
		if m.State().Pos > 50 {
			if err := m.Seek(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
		drain(m)
		p0 := m.State().Pos
		t0 := time.Now()
		if err := m.Play(ctx); err != nil {
			b.Fatal(err)
		}
		for moved := false; !moved; {
			ev := waitAnyTB(b, m)
			switch {
			case ev.Kind == EventUnpaused:
				toEvent = append(toEvent, ms(ev.At.Sub(t0)))
			case ev.Kind == EventPosition && ev.Position > p0:
				toMove = append(toMove, ms(ev.At.Sub(t0)))
				moved = true
			}
		}
		randomPhase(rng) // pause at a random point within a frame
		if err := m.Pause(ctx); err != nil {
			b.Fatal(err)
		}
		waitEvent(b, m, EventPaused)
	}
	report(b, toEvent, "ms-unpaused-event")
	report(b, toMove, "ms-moving")
}

// randomPhase waits 0-100 ms so the next command lands at a random point of
// the 40 ms frame clock; back-to-back commands would always hit the same
// phase and measure one fixed point of the distribution.
func randomPhase(rng *rand.Rand) {
	time.Sleep(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
}

func waitAnyTB(tb testing.TB, m *MPV) Event {
	tb.Helper()
	select {
	case ev := <-m.Events():
		return ev
	case <-time.After(5 * time.Second):
		tb.Fatal("no event within 5 s")
		return Event{}
	}
}

// DriftResult is playback-time fitted against the receive time of frame steps.
type DriftResult struct {
	Slope     float64   // playback seconds per wall second
	Residuals []float64 // ms, sample minus fitted line
	Samples   int
}

// MeasureDrift plays m at speed for d and fits pos = a + slope*t over every
// frame step, using the time each EventPosition arrived.
func MeasureDrift(tb testing.TB, m *MPV, speed float64, d time.Duration) DriftResult {
	tb.Helper()
	ctx := benchCtx(tb)
	if err := m.Pause(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := m.Seek(ctx, 1); err != nil {
		tb.Fatal(err)
	}
	if err := m.SetSpeed(ctx, speed); err != nil {
		tb.Fatal(err)
	}
	drain(m)
	if err := m.Play(ctx); err != nil {
		tb.Fatal(err)
	}
	var ts, ps []float64
	var t0 time.Time
	end := time.After(d)
	for collecting := true; collecting; {
		select {
		case ev := <-m.Events():
			if ev.Kind != EventPosition {
				continue
			}
			if t0.IsZero() {
				t0 = ev.At
			}
			ts = append(ts, ev.At.Sub(t0).Seconds())
			ps = append(ps, ev.Position)
		case <-end:
			collecting = false
		}
	}
	if err := m.Pause(ctx); err != nil {
		tb.Fatal(err)
	}
	if m.Dropped() > 0 {
		tb.Errorf("%d events dropped while measuring", m.Dropped())
	}
	n := float64(len(ts))
	var st, sp, stt, stp float64
	for i := range ts {
		st, sp, stt, stp = st+ts[i], sp+ps[i], stt+ts[i]*ts[i], stp+ts[i]*ps[i]
	}
	slope := (n*stp - st*sp) / (n*stt - st*st)
	a := (sp - slope*st) / n
	res := DriftResult{Slope: slope, Samples: len(ts)}
	for i := range ts {
		res.Residuals = append(res.Residuals, math.Abs(ps[i]-(a+slope*ts[i]))*1000)
	}
	return res
}

func driftSeconds() time.Duration {
	if os.Getenv("WATCHIUM_LONG") != "1" {
		return 0
	}
	return 30 * time.Second
}

// BenchmarkDrift measures the playback clock against the wall clock over
// 30 s per speed; only with WATCHIUM_LONG=1 (it takes ~90 s).
func BenchmarkDrift(b *testing.B) {
	d := driftSeconds()
	if d == 0 {
		b.Skip("set WATCHIUM_LONG=1 to run (90 s)")
	}
	m := launchTest(b, false)
	for _, speed := range []float64{1.0, 0.95, 1.05} {
		b.Run(fmt.Sprintf("speed=%.2f", speed), func(b *testing.B) {
			for range b.N {
				r := MeasureDrift(b, m, speed, d)
				b.ReportMetric(r.Slope, "slope")
				b.ReportMetric((r.Slope-speed)*d.Seconds()*1000, "ms-drift/30s")
				report(b, r.Residuals, "abs-resid-ms")
			}
		})
	}
}

func TestDrift(t *testing.T) {
	d := driftSeconds()
	if d == 0 {
		t.Skip("set WATCHIUM_LONG=1 to run (90 s)")
	}
	m := launchTest(t, false)
	for _, speed := range []float64{1.0, 0.95, 1.05} {
		r := MeasureDrift(t, m, speed, d)
		slices.Sort(r.Residuals)
		t.Logf("speed %.2f: slope %.5f (%+.1f ms/30 s), %d frame steps, |residual| p50 %.1f ms p99 %.1f ms",
			speed, r.Slope, (r.Slope-speed)*30000, r.Samples, r.Residuals[len(r.Residuals)/2], r.Residuals[len(r.Residuals)*99/100])
	}
}
