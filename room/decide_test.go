package room

import (
	"math/rand"
	"testing"
	"time"
)

func TestDecideApply(t *testing.T) {
	const reach = 0.25 // the controller's SeekAbove
	for _, c := range []struct {
		name            string
		seeking, paused bool
		own, host       float64
		want            applyMove
	}{
		{"host still landing", true, false, 10, 50, applySeekToTarget},
		{"paused just ahead of a scheduled play", false, true, 10.2, 10, applyStartAtOwnFrame},
		{"paused a hair behind", false, true, 9.95, 10, applyStartNow},
		{"paused far behind", false, true, 5, 10, applySeekAhead},
		{"paused far ahead", false, true, 12, 10, applySeekAhead},
		{"playing within reach", false, false, 10.1, 10, applyBySpeed},
		{"playing ahead beyond reach", false, false, 10.6, 10, applyHoldHere},
		{"playing behind beyond reach", false, false, 9.5, 10, applySeekAhead},
		{"playing far ahead", false, false, 13, 10, applySeekAhead},
	} {
		if got := decideApply(c.seeking, c.paused, c.own, c.host, reach); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

func TestDecideRelease(t *testing.T) {
	for _, c := range []struct {
		late  float64
		tries int
		want  releaseMove
	}{
		{-0.3, 1, releaseOnTime},
		{0, 1, releaseOnTime},
		{0.04, 1, releaseStartNow},
		{0.2, 1, releaseSeekAgain},
		{0.2, seekAheadTries, releaseLateStart},
		{0.04, seekAheadTries, releaseStartNow},
	} {
		if got := decideRelease(c.late, c.tries); got != c.want {
			t.Errorf("late %.2f after %d tries: got %d, want %d", c.late, c.tries, got, c.want)
		}
	}
}

func TestPlayLead(t *testing.T) {
	for _, c := range []struct {
		rtts []float64
		want time.Duration
	}{
		{nil, playLeadMin},
		{[]float64{2}, playLeadMin}, // 1 + 25 ms, under the floor
		{[]float64{40, 100}, 75 * time.Millisecond},
		{[]float64{5000}, playLeadMax},
	} {
		if got := playLead(c.rtts); got != c.want {
			t.Errorf("rtts %v: lead %v, want %v", c.rtts, got, c.want)
		}
	}
}

// The seek-ahead loop, simulated: a follower's seeks take a random time
// around what a 1080p long-GOP file costs, and the host plays on. With the
// learned cost (seekCost) choosing the target and decideRelease judging
// the landing, almost every correction lands ahead of the host and starts
// on its frame; a late landing goes again at most seekAheadTries times.
// This is the follower's logic without mpv, a clock or sleeps.
func TestSeekAheadLandsAheadOfTheHost(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var cost seekCost
	onTime, seeks, lateStarts := 0, 0, 0
	const corrections = 200
	for i := 0; i < corrections; i++ {
		host := 100.0 + float64(i)*30 // host position when the correction starts
		for tries := 1; ; tries++ {
			aim := host + cost.expect() + seekMargin
			took := 0.25 + rng.Float64()*0.3 // 250–550 ms, as measured on the HD clip
			seeks++
			cost.add(time.Duration(took * float64(time.Second)))
			host += took // the host played on while we decoded
			move := decideRelease(host-aim, tries)
			if move == releaseOnTime || move == releaseStartNow {
				onTime++ // on the host's frame, or a hair late for speed to remove
				break
			}
			if move == releaseLateStart {
				lateStarts++
				break
			}
		}
	}
	if onTime != corrections {
		t.Errorf("only %d of %d corrections started on the host's frame", onTime, corrections)
	}
	if seeks > corrections*12/10 {
		t.Errorf("%d seeks for %d corrections: the learned cost lands late too often", seeks, corrections)
	}
	if lateStarts > 0 {
		t.Errorf("%d corrections gave up and started late", lateStarts)
	}
}
