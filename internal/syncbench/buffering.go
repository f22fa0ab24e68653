package syncbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
)

// BufferResult is how a room with a follower on a slow stream fares: after
// a host seek that the follower must fetch over a throttled link, how long
// from the follower being ready (landed, cache filled) to everyone playing
// together again.
type BufferResult struct {
	MediaName string
	Ready     Stats // follower ready → host and follower both playing within 0.1 s
	Held      int   // seeks where the host held the room for the follower
	Cycles    int
}

// RunBuffering measures cycles host seeks with one follower that streams
// the media from a loopback HTTP server throttled to an eighth of its
// bitrate for 1.5 s after the seek, then to ten times it (a 1080p stream on
// a 30 Mbit/s home link: a seek on a 10 s GOP fetches up to 10 s of video).
func RunBuffering(ctx context.Context, cfg SeekConfig, cycles int) (BufferResult, error) {
	res := BufferResult{MediaName: cfg.MediaName, Cycles: cycles}
	media, err := testmedia.Cached(cfg.Media)
	if err != nil {
		return res, err
	}
	st, err := os.Stat(media)
	if err != nil {
		return res, err
	}
	bitrate := st.Size() / int64(cfg.Media.Seconds) // bytes per second
	const fast = 10
	th, err := testmedia.ServeThrottled(media, fast*bitrate)
	if err != nil {
		return res, err
	}
	defer th.Close()
	url, stop, err := startServer()
	if err != nil {
		return res, err
	}
	defer stop()
	roomID := fmt.Sprintf("bufbench-%d", rand.IntN(1e6))
	host, err := joinRoom(ctx, media, url, roomID, "host", true, nil)
	if err != nil {
		return res, err
	}
	defer host.close()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	sm, err := player.Launch(lctx, th.URL, player.Options{Headless: true, StartPaused: true})
	cancel()
	if err != nil {
		return res, err
	}
	fol, err := joinRoom(ctx, media, url, roomID, "streamer", false, sm)
	if err != nil {
		return res, err
	}
	defer fol.close()
	if err := waitUntil(ctx, 30*time.Second, func() bool {
		s, err := host.room.Snapshot(ctx)
		if err != nil {
			return false
		}
		for _, m := range s.Members {
			if m.UserID == "streamer" && m.Media.Filename != "" {
				return true
			}
		}
		return false
	}); err != nil {
		return res, fmt.Errorf("the streaming follower never showed up")
	}
	if err := host.mpv.Play(ctx); err != nil {
		return res, err
	}
	pauseFor(ctx, 2*time.Second)
	duration := host.mpv.State().Duration
	var ready []float64
	for i := 0; i < cycles && ctx.Err() == nil; i++ {
		th.SetRate(bitrate / 8)
		target := 10 + rand.Float64()*(duration-40)
		if err := host.mpv.Seek(ctx, target); err != nil {
			return res, err
		}
		held := false
		_ = waitUntil(ctx, 2*time.Second, func() bool {
			s, err := host.room.Snapshot(ctx)
			held = err == nil && len(s.WaitingFor) > 0
			return held
		})
		if held {
			res.Held++
		}
		pauseFor(ctx, 1500*time.Millisecond) // the link stays slow for a while
		th.SetRate(fast * bitrate)
		var readyAt time.Time
		err := waitUntil(ctx, 20*time.Second, func() bool {
			now := time.Now()
			fs, hs := sm.State(), host.mpv.State()
			if readyAt.IsZero() && !fs.Seeking && !fs.Buffering && math.Abs(fs.Pos-target) < 2 {
				readyAt = now
			}
			return !readyAt.IsZero() && !fs.Paused && !hs.Paused && !fs.Buffering &&
				math.Abs(fs.PositionAt(now)-hs.PositionAt(now)) < 0.1
		})
		if err != nil {
			continue
		}
		ready = append(ready, ms(time.Since(readyAt)))
		pauseFor(ctx, 2*time.Second)
	}
	res.Ready = summarize(ready)
	return res, nil
}

// FormatBuffering prints a buffering run.
func FormatBuffering(w interface{ Write([]byte) (int, error) }, r BufferResult) {
	fmt.Fprintf(w, "\n%s, 1 follower streaming over a throttled link\n", r.MediaName)
	fmt.Fprintf(w, "%-44s %8.1f %8.1f %8.1f %8.1f %5d\n", "follower ready → everyone playing (0.1 s)", r.Ready.P50, r.Ready.P95, r.Ready.P99, r.Ready.Max, r.Ready.N)
	fmt.Fprintf(w, "%-44s %d of %d seeks\n", "host held the room for the follower", r.Held, r.Cycles)
}
