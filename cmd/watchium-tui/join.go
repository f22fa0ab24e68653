package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/internal/config"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
	"github.com/watchium/watchium-tui/ui"
)

type joinFlags struct {
	globalFlags
	media     string
	socket    string
	host      bool
	headless  bool
	mpvArgs   []string
	mediaDirs []string
	logFile   string
	avatarURL string
	private   bool
}

func newJoinCmd() *cobra.Command {
	var f joinFlags
	cmd := &cobra.Command{
		Use:   "join ROOM",
		Short: "Join a room: follow or host playback, see members, chat",
		Long: `Joins room ROOM. With --media, starts mpv on that file; with --mpv-socket,
drives an mpv you started yourself (mpv --input-ipc-server=/tmp/mpv.sock FILE);
with only media folders (--media-dir, or media_dirs in the config file), starts
mpv idle and it loads whatever the room's playlist plays. Without any of them
you can still chat.

The room's shared playlist names files, never paths: each member's watchium
finds an entry by name in their media folders (--media-dir DIR, repeatable,
else media_dirs from the config file, plus the folder of the --media file),
then checks its size and length. /add, /next, /goto N and /list work in the
input line; /help lists them all.

The host's play, pause and seek reach everyone's mpv within a frame or two;
followers who fall behind are brought back by nudging mpv's speed, without a
visible jump. --host claims the host role when nobody holds it; if nobody
claims it, the earliest member to join hosts.

--headless runs without the terminal UI and prints every room event as one
JSON line on stdout, for scripts and bots, including the connection's state:
{"type":"connection","state":"connecting|open|reconnecting|closed","attempt":N,"reason":…}.
It stops cleanly on SIGINT/SIGTERM.

If the mpv started by --media is killed or crashes, join says so and exits 1;
quitting mpv yourself leaves the room and exits 0. An mpv given with
--mpv-socket is yours: if it goes away, join stays for chat.

If --server points at this machine and nothing answers there, the embedded
server is started inside this process, so a first run just works.`,
		Example: `  watchium-tui join movie --media movie.mkv --host
  watchium-tui join movie --media movie.mkv --name bob
  watchium-tui join frieren --media-dir ~/Videos/frieren --name bob
  mpv --input-ipc-server=/tmp/mpv.sock movie.mkv &
  watchium-tui join movie --mpv-socket /tmp/mpv.sock
  watchium-tui join movie --headless | jq -c .`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJoin(cmd, args[0], f)
		},
	}
	addServerFlags(cmd, &f.globalFlags)
	addInviteFlag(cmd, &f.globalFlags)
	fl := cmd.Flags()
	fl.BoolVar(&f.private, "private", false, "create ROOM as a private room when it is new (members only; invite friends with watchium-tui invite ROOM)")
	fl.StringVar(&f.name, "name", defaultName(), "your name in the room (env WATCHIUM_NAME)")
	fl.StringVar(&f.media, "media", "", "video file (or URL) to play in a new mpv")
	fl.StringVar(&f.socket, "mpv-socket", "", "drive the mpv listening on this IPC socket")
	fl.BoolVar(&f.host, "host", false, "claim the host role when nobody holds it")
	fl.BoolVar(&f.headless, "headless", false, "no terminal UI: print room events as JSON lines")
	fl.StringArrayVar(&f.mpvArgs, "mpv-arg", nil, "extra argument for the mpv started by --media (repeatable), e.g. --mpv-arg=--fs (config: mpv_args)")
	fl.StringArrayVar(&f.mediaDirs, "media-dir", nil, "folder where playlist entries are found by file name (repeatable; config: media_dirs; the --media file's folder counts too)")
	fl.StringVar(&f.logFile, "log-file", "", "write logs here (default: stderr when --headless, none with the UI)")
	fl.StringVar(&f.avatarURL, "avatar-url", "", "picture others see next to your name")
	cmd.MarkFlagsMutuallyExclusive("media", "mpv-socket")
	return cmd
}

func runJoin(cmd *cobra.Command, roomID string, f joinFlags) error {
	if err := validRoom(roomID); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stderr := cmd.ErrOrStderr()
	f.nameSet = nameChosen(cmd, f.globalFlags)

	// Logs never go to a terminal the UI draws on.
	var logW io.Writer
	switch {
	case f.logFile != "":
		lf, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("cannot open the log file: %w", err)
		}
		defer lf.Close()
		logW = lf
	case f.headless:
		logW = stderr
	}
	log := newLogger(logW, f.debug)
	if !cmd.Flags().Changed("mpv-arg") {
		f.mpvArgs = f.file.MPVArgs
	}
	mediaDirs, err := mediaFolders(f)
	if err != nil {
		return err
	}

	var p *player.MPV
	var rp room.Player
	switch {
	case f.media != "" || f.socket == "" && len(mediaDirs) > 0:
		// With media folders and no file, mpv starts idle and loads the
		// room's playlist entry from them.
		lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
		m, err := player.Launch(lctx, f.media, player.Options{StartPaused: true, ExtraArgs: f.mpvArgs, Logger: log})
		lcancel()
		if err != nil {
			return fmt.Errorf("starting mpv: %w", err)
		}
		defer m.Close()
		p = m
	case f.socket != "":
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := player.Attach(actx, f.socket)
		acancel()
		if err != nil {
			return err
		}
		defer m.Close()
		p = m
	}
	if p != nil {
		rp = p
	}

	notes := make(chan string, 4)
	cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
	l, err := connect(cctx, f.globalFlags, log, true, func(s string) {
		select {
		case notes <- s:
		default:
		}
	})
	if err != nil {
		ccancel()
		return err
	}
	defer l.close()
	client := l.client
	name, avatar := profile(cctx, f.globalFlags, l.keeper, f.avatarURL)
	f.name, f.avatarURL = name, avatar
	adm, err := admit(cctx, f.globalFlags, l.keeper, roomID, f.private)
	ccancel()
	if err != nil {
		return err
	}
	if adm.Invite != "" {
		select {
		case notes <- fmt.Sprintf("private room %s created; invite friends with: %s", roomID, inviteCommand(f.globalFlags, roomID, adm.Invite)):
		default:
		}
	}

	cfg := room.Config{
		RoomID: roomID, UserID: l.userID(name), Username: name, AvatarURL: f.avatarURL,
		WantHost: f.host || adm.Invite != "", Server: f.server, Logger: log, Private: adm.Private, MediaDirs: mediaDirs,
	}
	cfg.SigningKey = deviceKey(f.globalFlags, log)
	if rc, err := restClient(f.globalFlags, l.keeper); err == nil {
		cfg.Store = roomrest.Store{C: rc}
		cfg.Admin = roomrest.Admin{C: rc}
	}
	jctx, jcancel := context.WithTimeout(ctx, 15*time.Second)
	r, err := room.Join(jctx, client, cfg, rp)
	jcancel()
	if err != nil {
		return err
	}
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()
	var mpvDone <-chan struct{}
	if p != nil {
		mpvDone = p.Done()
	}

	var launched *player.MPV
	if f.media != "" {
		launched = p
	}
	if f.headless {
		err = runHeadless(ctx, cmd.OutOrStdout(), stderr, r, notes, mpvDone, launched)
	} else {
		err = runTUI(ctx, r, roomID, f, notes, mpvDone, launched)
	}
	cancel()
	<-runDone
	return err
}

// mpvEnded decides what a join does when the mpv it started (--media) goes
// away: quit by the person, the join leaves and exits 0; killed or crashed,
// it says so and exits non-zero, so a script or supervisor notices. (An mpv
// given with --mpv-socket is the person's own: the join stays for chat.)
func mpvEnded(m *player.MPV, stderr io.Writer) error {
	exitErr, ok := m.ProcessExit(2 * time.Second)
	if ok && exitErr == nil {
		fmt.Fprintln(stderr, "mpv was closed; leaving the room")
		return nil
	}
	why := "its connection closed"
	if exitErr != nil {
		why = exitErr.Error()
	}
	return fmt.Errorf("mpv died (%s); leaving the room. Join again to start a new one", why)
}

// mediaFolders are where playlist entries are looked for: --media-dir
// (else the config file's media_dirs), then the --media file's folder.
// Only file names ever leave this machine.
func mediaFolders(f joinFlags) ([]string, error) {
	dirs := f.mediaDirs
	if len(dirs) == 0 {
		dirs = f.file.MediaDirs
	}
	var out []string
	for _, d := range dirs {
		d = config.ExpandHome(d)
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("media folder %q: not a folder here (check --media-dir or media_dirs in the config file)", d)
		}
		out = append(out, d)
	}
	if f.media != "" && !strings.Contains(f.media, "://") {
		out = append(out, filepath.Dir(f.media))
	}
	return out, nil
}

// runHeadless prints room events as JSON lines until ctx ends (or the mpv
// we started goes away).
func runHeadless(ctx context.Context, stdout, stderr io.Writer, r *room.Room, notes <-chan string, mpvDone <-chan struct{}, launched *player.MPV) error {
	out := &jsonLines{w: stdout}
	// The socket closes after the room is left, when nothing prints any
	// more: say so here, so a bot sees every session end.
	closed := func(reason string) {
		out.print(connectionLine(room.ConnectionChanged{ConnState: room.ConnState{State: "closed", Reason: reason}, At: time.Now()}))
	}
	for {
		select {
		case <-ctx.Done():
			closed("left the room")
			return nil
		case n := <-notes:
			fmt.Fprintln(stderr, n)
		case <-mpvDone:
			if launched != nil {
				err := mpvEnded(launched, stderr)
				closed("mpv went away")
				return err
			}
			mpvDone = nil
		case ev, ok := <-r.Events():
			if !ok {
				return nil
			}
			switch e := ev.(type) {
			case room.EventReceived:
				if e.Envelope.Type != room.TypeNewComment {
					out.print(e.Envelope)
				}
			case room.ChatReceived:
				// Our own messages come only this way; print every comment
				// from here, once.
				env, err := room.NewEnvelope(room.TypeNewComment, e.Comment.RoomID, e.Comment, time.Now())
				if err == nil {
					out.print(env)
				}
			case room.Notice:
				out.print(map[string]any{"type": "notice", "text": e.Text, "timestamp": e.At.UnixMilli()})
			case room.ConnectionChanged:
				out.print(connectionLine(e))
			}
		}
	}
}

// connectionLine is the headless form of a connection change:
// {"type":"connection","state":"connecting|open|reconnecting|closed","attempt":N,"reason":…}.
func connectionLine(e room.ConnectionChanged) map[string]any {
	line := map[string]any{"type": "connection", "state": e.State, "attempt": e.Attempt, "timestamp": e.At.UnixMilli()}
	if e.Reason != "" {
		line["reason"] = e.Reason
	}
	return line
}

// runTUI runs the terminal UI; one goroutine forwards room events to it.
func runTUI(ctx context.Context, r *room.Room, roomID string, f joinFlags, notes <-chan string, mpvDone <-chan struct{}, launched *player.MPV) error {
	root := ui.New(ui.Options{
		Controller: r, RoomID: roomID, Server: f.server, SelfName: f.name,
		NoColor: os.Getenv("NO_COLOR") != "",
	})
	prog := tea.NewProgram(root, tea.WithContext(ctx))
	if launched == nil {
		mpvDone = nil
	}
	var mpvErr error
	mpvGone := make(chan struct{})
	go func() {
		for {
			select {
			case <-mpvDone:
				mpvErr = mpvEnded(launched, io.Discard)
				close(mpvGone)
				prog.Quit()
				return
			case n := <-notes:
				prog.Send(room.Notice{Text: n, At: time.Now()})
			case ev, ok := <-r.Events():
				if !ok {
					prog.Quit()
					return
				}
				if _, conn := ev.(room.ConnectionChanged); conn {
					continue // the status bar shows it from the snapshot
				}
				prog.Send(ev)
			}
		}
	}()
	_, err := prog.Run()
	select {
	case <-mpvGone:
		return mpvErr
	default:
	}
	if errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
