package room

import "time"

// The sync engine's tuning, in one place, each value with its reason. The
// decisions that use them (decideApply, decideRelease, timelineChange,
// playLead, the DriftController) are pure functions of state, observation and
// now, tested without mpv in logic_test.go and decide_test.go.
const (
	// jumpAbove: a host timeline that moved further than this from where
	// the previous anchor projected is a discontinuity to apply at once;
	// less is drift, which the controller removes without a visible jump.
	jumpAbove = 0.1
	// startNowBelow: a paused follower this close behind a playing host
	// (a play that took a link's one-way delay to arrive) starts at once
	// and leaves the rest to speed, which removes it in about a second
	// without a visible jump; further behind, it seeks ahead.
	startNowBelow = 0.1
	// releaseLate: landing behind the host's clock by up to this (a frame
	// and a half at 24 fps), the follower starts at once and speed removes
	// the rest; later than that it seeks ahead again.
	releaseLate = 0.06
	// seekAheadTries bounds the seeks of one correction; after them the
	// follower starts late and falls back to speed.
	seekAheadTries = 3
	// seekMargin is added to the learned seek time when choosing where to
	// land: landing early costs only a wait, landing late another seek.
	seekMargin = 0.05
	// holdAheadBelow: a playing follower ahead of the host by less than
	// this pauses until the host catches up, with no seek at all.
	holdAheadBelow = 1.0
	// jobTimeout bounds one player job: an HD seek takes up to a second on
	// a slow machine, a stalled stream longer.
	jobTimeout = 10 * time.Second
	// seekCostWindow is how many recent seeks the cost estimate keeps:
	// seek times depend on the file and on where in the GOP the target is.
	seekCostWindow = 8
	// defaultSeekCost is assumed before our first seek on a file: about
	// what an exact seek into a 1080p long-GOP file costs. Too short, the
	// first seek lands late and goes again (two seeks); too long, a small
	// file's first seek waits a little, paused, once.
	defaultSeekCost = 0.5
	// settleAfter is how long after a play or seek the host's frame steps are
	// regular again.
	settleAfter = 250 * time.Millisecond
	// speedSettleAfter is how long after a speed change the host's frame steps
	// are at the new rate (mpv's lag, measured at 170–360 ms, plus a margin).
	speedSettleAfter = 600 * time.Millisecond
	// reportQuiet is how long after a playback event a spec-only host's presence
	// report is not trusted: a report tracked just before the event can arrive
	// just after it, and would undo it. Reports travel in milliseconds, so a
	// second is ample.
	reportQuiet = time.Second
	// mediaRetries bounds the re-reads of a newly loaded file's name: a busy
	// mpv may not answer within mediaReadTimeout, and a host whose file
	// changed must still move the room.
	mediaRetries = 5
	// playLeadMargin is added to the slowest member's one-way delay when a
	// /play is scheduled ahead: the time a follower takes to see the
	// event and unpause its mpv on a busy machine.
	playLeadMargin = 25 * time.Millisecond
	// playLeadMin and playLeadMax bound that lead: below 30 ms our own
	// mpv's start can miss it, above 400 ms a press of play feels late.
	playLeadMin = 30 * time.Millisecond
	playLeadMax = 400 * time.Millisecond
	// probeBurst clock probes, probeBurstGap apart, measure the clock
	// offset quickly after a join or a host change: the fastest of four
	// exchanges is rarely delayed, and 60 ms apart they do not queue
	// behind each other.
	probeBurst    = 4
	probeBurstGap = 60 * time.Millisecond
	// chatOSDFor is how long a chat line stays on mpv's screen.
	chatOSDFor = 4 * time.Second
	// mediaReadTimeout bounds the read of what mpv plays after a file
	// loaded; mediaRetryEvery spaces the retries.
	mediaReadTimeout = 2 * time.Second
	mediaRetryEvery  = 250 * time.Millisecond
)
