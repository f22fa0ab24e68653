package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/internal/bench"
	"github.com/watchium/watchium-tui/internal/chatbench"
	"github.com/watchium/watchium-tui/internal/syncbench"
	"github.com/watchium/watchium-tui/internal/testmedia"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure sync accuracy and server fan-out on this machine",
		Long: `Benchmarks that run entirely on loopback (127.0.0.1) and print a table.
They start their own server, mpv players and clients, and stop them when done.`,
	}
	cmd.AddCommand(newBenchSyncCmd(), newBenchSeeksCmd(), newBenchChatCmd(), newBenchFanoutCmd(), newBenchFaultsCmd())
	return cmd
}

func newBenchFanoutCmd() *cobra.Command {
	var idle int
	cmd := &cobra.Command{
		Use:   "fanout",
		Short: "Broadcast fan-out latency of the embedded server, and memory per idle connection",
		Long: `Starts 'watchium-tui serve' as a separate process on a free loopback port,
then measures broadcast latency (sender → every other member) for 1 room of
10, 100 and 1000 members and 100 rooms of 10 members tracking presence every
3 s, and the server's RSS growth per idle joined connection.`,
		Example: `  watchium-tui bench fanout`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			url, _, stop, err := spawnServe(cmd)
			if err != nil {
				return err
			}
			var rs []bench.FanoutResult
			for _, cfg := range bench.Scenarios() {
				fmt.Fprintf(cmd.ErrOrStderr(), "running %s…\n", cfg)
				r, err := bench.RunFanout(ctx, url, cfg)
				if err != nil {
					stop()
					return fmt.Errorf("%s: %w", cfg, err)
				}
				rs = append(rs, r)
			}
			stop()
			// A fresh server, so the load above does not blur the baseline.
			url, pid, stop, err := spawnServe(cmd)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(cmd.ErrOrStderr(), "measuring %d idle connections…\n", idle)
			kib, err := bench.MeasureIdleRSS(ctx, url, idle, bench.ProcRSS(pid))
			if err != nil {
				return fmt.Errorf("idle memory: %w", err)
			}
			bench.FormatTable(cmd.OutOrStdout(), rs)
			fmt.Fprintf(cmd.OutOrStdout(), "\nserver RSS per idle joined connection (%d connections): %.1f KiB\n", idle, kib)
			return nil
		},
	}
	cmd.Flags().IntVar(&idle, "idle", 1000, "idle connections for the memory measurement")
	return cmd
}

// spawnServe starts this binary's serve command on a free loopback port and
// returns its URL and pid; stop ends it (by its pid).
func spawnServe(cmd *cobra.Command) (string, int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	child := exec.Command(self, "serve", "--addr", addr, "--data", ":memory:", "--max-events", "100000")
	child.Stderr = cmd.ErrOrStderr()
	if err := child.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() {
		_ = child.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = child.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = child.Process.Kill()
			<-done
		}
	}
	url := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			return url, child.Process.Pid, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", 0, nil, fmt.Errorf("the benchmark server did not start on %s", addr)
		}
		time.Sleep(20 * time.Millisecond) // waiting for the child's port, with a deadline
	}
}

func newBenchChatCmd() *cobra.Command {
	var cfg chatbench.Config
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Durable chat: REST insert → postgres_changes delivery latency, inserts per second",
		Long: `Starts the embedded server with an on-disk store, opens --rooms rooms with
--listeners clients each listening to postgres_changes on comments, then has
--writers clients insert comments over REST as fast as they are acknowledged
for --duration, and reports delivery latency and sustained inserts per second.`,
		Example: `  watchium-tui bench chat
  watchium-tui bench chat --rooms 100 --writers 1 --duration 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var results []chatbench.Result
			for _, writers := range []int{1, cfg.Writers} {
				c := cfg
				c.Writers = writers
				fmt.Fprintf(cmd.ErrOrStderr(), "running %d rooms × %d listeners, %d writers…\n", c.Rooms, c.Listeners, c.Writers)
				r, err := chatbench.Run(cmd.Context(), c)
				if err != nil {
					return err
				}
				results = append(results, r)
				if writers == cfg.Writers {
					break
				}
			}
			chatbench.FormatTable(cmd.OutOrStdout(), results)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Rooms, "rooms", 100, "active rooms")
	f.IntVar(&cfg.Listeners, "listeners", 2, "listeners per room")
	f.IntVar(&cfg.Writers, "writers", 8, "concurrent writers")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to insert")
	return cmd
}

func newBenchSyncCmd() *cobra.Command {
	var cfg syncbench.Config
	var link bool
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Host → follower apply latency, steady-state offset, convergence, with real mpv",
		Long: `Starts the embedded server, a host and N followers, each with a headless mpv
playing a generated 100 fps video (mpv's position moves once per frame, so
10 ms frames make millisecond offsets measurable), then measures:

  apply latency   host mpv change → follower mpv change (play, pause, seek)
  pause frame     how far from the host's frame each follower comes to rest
  steady offset   |follower − host| sampled every 50 ms while playing
  convergence     time for a follower playing 1.5 s behind to come within 20 ms

It runs twice: on plain loopback, and with the followers behind a TCP proxy
that delays each direction by --delay ± --jitter, as an internet link would.`,
		Example: `  watchium-tui bench sync --followers 4
  watchium-tui bench sync --followers 2 --cycles 5 --steady 20s --link=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := filepath.Join(os.TempDir(), "watchium-bench-media")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			cfg.MediaDir = dir
			cfg.Log = cmd.ErrOrStderr()
			runs := []syncbench.Config{cfg}
			runs[0].Delay, runs[0].Jitter = 0, 0
			if link {
				runs = append(runs, cfg)
			}
			var results []syncbench.Result
			for _, rc := range runs {
				what := "loopback"
				if rc.Delay > 0 {
					what = fmt.Sprintf("link %v ± %v", rc.Delay, rc.Jitter)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "running on %s…\n", what)
				r, err := syncbench.Run(cmd.Context(), rc)
				if err != nil {
					return fmt.Errorf("bench on %s: %w", what, err)
				}
				results = append(results, r)
			}
			syncbench.FormatTable(cmd.OutOrStdout(), results)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Followers, "followers", 4, "followers in the room")
	f.IntVar(&cfg.Cycles, "cycles", 20, "play/seek/pause cycles for apply latency")
	f.DurationVar(&cfg.Steady, "steady", 60*time.Second, "how long to sample the offset while playing")
	f.BoolVar(&link, "link", true, "also run with the followers behind a delaying link")
	f.DurationVar(&cfg.Delay, "delay", 50*time.Millisecond, "one-way delay of that link")
	f.DurationVar(&cfg.Jitter, "jitter", 10*time.Millisecond, "± jitter of that link")
	return cmd
}

func newBenchSeeksCmd() *cobra.Command {
	var media string
	var followers []int
	var seeks int
	var noConverge, syncplay bool
	var bufferCycles int
	cmd := &cobra.Command{
		Use:   "seeks",
		Short: "Host seeks while playing, on real-world media (HD, long GOP), with real mpv",
		Long: `Starts the embedded server, a host and followers with headless mpv on a
generated video, and seeks the host (through its mpv) while everyone plays:

  host's own seek     how long the host's mpv takes to land (the floor)
  within 0.2 s        host seek → every follower within 0.2 s of the host
  settled             → everyone done seeking and within 60 ms (a frame), three
                        samples (5 ms apart) in a row
  after settling      |follower − host| for the rest of the 10 s after a seek
  converge            a follower playing 1.5 s behind joins: time to within a frame
  buffering           one follower streams over a throttled loopback HTTP link;
                      after each host seek, time from that follower being ready
                      to everyone playing together (--buffer-cycles, 0 to skip)

--media: toy (96×54, 100 fps, 1 s GOP), hd (1080p 23.976 fps H.264, 10 s GOP,
10 minutes) or hevc (the same with x265). Videos are made once with ffmpeg and
kept in ~/.cache/watchium/testmedia (the HD one takes minutes to encode).

--syncplay runs Debian's syncplay and syncplay-server the same way (its own
headless mpv per client, the host's mpv seeked through its IPC socket) to the
same seek targets, and prints both side by side. A seek that never got there
within 10 s is shown as "never" and ranks last; it is not left out.`,
		Example: `  watchium-tui bench seeks --media hd --followers 1,3
  watchium-tui bench seeks --media toy --seeks 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, ok := map[string]testmedia.Spec{"toy": testmedia.Default, "hd": testmedia.HD, "hevc": testmedia.HEVC}[media]
			if !ok {
				return fmt.Errorf("--media %q: want toy, hd or hevc", media)
			}
			if media == "hevc" && !testmedia.HasEncoder("libx265") {
				return errors.New("--media hevc: this ffmpeg has no libx265 encoder")
			}
			// Ours and Syncplay's runs seek to the same targets.
			seed := rand.Uint64()
			var results []syncbench.SeekResult
			for _, n := range followers {
				fmt.Fprintf(cmd.ErrOrStderr(), "running %s with %d follower(s)…\n", media, n)
				r, err := syncbench.RunSeeks(cmd.Context(), syncbench.SeekConfig{
					Media: spec, MediaName: media, Followers: n, Seeks: seeks, NoConverge: noConverge, Seed: seed, Log: cmd.ErrOrStderr(),
				})
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			syncbench.FormatSeekTable(cmd.OutOrStdout(), results)
			if bufferCycles > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "running %s with a throttled follower…\n", media)
				br, err := syncbench.RunBuffering(cmd.Context(), syncbench.SeekConfig{Media: spec, MediaName: media, Log: cmd.ErrOrStderr()}, bufferCycles)
				if err != nil {
					return err
				}
				syncbench.FormatBuffering(cmd.OutOrStdout(), br)
			}
			if !syncplay {
				return nil
			}
			var theirs []syncbench.SeekResult
			for _, n := range followers {
				fmt.Fprintf(cmd.ErrOrStderr(), "running Syncplay on %s with %d follower(s)…\n", media, n)
				r, err := syncbench.RunSyncplaySeeks(cmd.Context(), syncbench.SeekConfig{
					Media: spec, MediaName: media + " (Syncplay)", Followers: n, Seeks: seeks, NoConverge: true, Seed: seed, Log: cmd.ErrOrStderr(),
				})
				if err != nil {
					return err
				}
				theirs = append(theirs, r)
			}
			syncbench.FormatSeekTable(cmd.OutOrStdout(), theirs)
			syncbench.FormatSeekComparison(cmd.OutOrStdout(), results, theirs)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&media, "media", "hd", "toy, hd or hevc")
	f.IntSliceVar(&followers, "followers", []int{1, 3}, "follower counts, one run each")
	f.IntVar(&seeks, "seeks", 20, "host seeks per run")
	f.BoolVar(&noConverge, "no-converge", false, "skip the 1.5 s convergence run")
	f.BoolVar(&syncplay, "syncplay", false, "also run Syncplay the same way and compare")
	f.IntVar(&bufferCycles, "buffer-cycles", 5, "host seeks with a follower on a throttled stream (0: skip)")
	return cmd
}
