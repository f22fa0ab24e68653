package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/internal/faultbench"
)

func newBenchFaultsCmd() *cobra.Command {
	var runs int
	var silent []time.Duration
	var stop time.Duration
	var cases []string
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "Put a room through faults and measure detection, recovery and lost chat",
		Long: `Runs the fault suite on loopback: 'watchium-tui serve' as its own process,
a host and followers as 'join --headless' processes driving real mpv players,
and chat posted with 'say' while the faults happen:

  flood            a member sends 10,000 broadcasts as fast as it can
  server kill -9   the server is killed and restarted with chat flowing
  silent link      a follower's link stops forwarding without closing (10 s, 40 s)
  host kill -9     the host's process is killed
  follower mpv     a follower's mpv is killed
  SIGSTOP          a follower and its mpv are stopped, then continued

Each case runs --runs times; the table gives median and worst of detection
time, recovery time, acknowledged messages lost and comments shown twice.
A full run takes about 8 minutes with the defaults.`,
		Example: `  watchium-tui bench faults
  watchium-tui bench faults --runs 1 --case flood --case "silent link"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			rs, err := faultbench.Run(cmd.Context(), faultbench.Config{
				Binary: self, Runs: runs, SilentFor: silent, StopFor: stop, Cases: cases, Progress: cmd.ErrOrStderr(),
			})
			faultbench.FormatTable(cmd.OutOrStdout(), rs)
			if err != nil {
				return fmt.Errorf("fault suite: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&runs, "runs", 3, "runs per case")
	fl.DurationSliceVar(&silent, "silent", []time.Duration{10 * time.Second, 40 * time.Second}, "silent-link durations")
	fl.DurationVar(&stop, "stop", 30*time.Second, "how long the member and its mpv stay stopped")
	fl.StringArrayVar(&cases, "case", nil, "run only cases whose name starts with this (repeatable)")
	return cmd
}
