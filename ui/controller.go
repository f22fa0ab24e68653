package ui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Controller is what the UI asks of the room; *room.Room implements it.
// Every call may block on the network, so the UI makes them only inside
// tea.Cmds, each under callTimeout, and reports the result as a *DoneMsg.
type Controller interface {
	Play(ctx context.Context) error
	Pause(ctx context.Context) error
	Seek(ctx context.Context, seconds float64) error
	SeekRelative(ctx context.Context, delta float64) error
	Say(ctx context.Context, text string) error
	HandOver(ctx context.Context, userID string) error
	Resync(ctx context.Context) error
	SetName(ctx context.Context, name string) error
	SetWaitForEveryone(ctx context.Context, on bool) error
	// Invite returns a private room's invite code; rotate replaces it
	// first (the owner only).
	Invite(ctx context.Context, rotate bool) (string, error)
	// Kick ends a member's membership of a private room (owner or host).
	Kick(ctx context.Context, userID string) error
	SetSpeed(ctx context.Context, speed float64) error
	Add(ctx context.Context, what string) error
	Accept(ctx context.Context, n int) error
	Remove(ctx context.Context, n int) error
	Goto(ctx context.Context, n int) error
	Next(ctx context.Context) error
	Prev(ctx context.Context) error
}

// callTimeout bounds one Controller call, so a dead connection turns into
// an error line instead of a command that never answers.
const callTimeout = 10 * time.Second

var errNoController = errors.New("not connected to a room")

// call runs fn against the controller in a Cmd. It captures only the
// controller and fn's arguments, never the model, because Cmds run on
// other goroutines.
func call(ctrl Controller, fn func(context.Context, Controller) error, done func(error) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		if ctrl == nil {
			return done(errNoController)
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return done(fn(ctx, ctrl))
	}
}

func playCmd(ctrl Controller) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.Play(ctx) },
		func(err error) tea.Msg { return PlayDoneMsg{Err: err} })
}

func pauseCmd(ctrl Controller) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.Pause(ctx) },
		func(err error) tea.Msg { return PauseDoneMsg{Err: err} })
}

func seekCmd(ctrl Controller, seconds float64, relative bool) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error {
		if relative {
			return c.SeekRelative(ctx, seconds)
		}
		return c.Seek(ctx, seconds)
	}, func(err error) tea.Msg { return SeekDoneMsg{Seconds: seconds, Relative: relative, Err: err} })
}

func sayCmd(ctrl Controller, text string) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.Say(ctx, text) },
		func(err error) tea.Msg { return SayDoneMsg{Text: text, Err: err} })
}

func handOverCmd(ctrl Controller, userID, name string) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.HandOver(ctx, userID) },
		func(err error) tea.Msg { return HandOverDoneMsg{UserID: userID, Name: name, Err: err} })
}

func resyncCmd(ctrl Controller) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.Resync(ctx) },
		func(err error) tea.Msg { return ResyncDoneMsg{Err: err} })
}

func setNameCmd(ctrl Controller, name string) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.SetName(ctx, name) },
		func(err error) tea.Msg { return SetNameDoneMsg{Name: name, Err: err} })
}

func setWaitCmd(ctrl Controller, on bool) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.SetWaitForEveryone(ctx, on) },
		func(err error) tea.Msg { return SetWaitDoneMsg{On: on, Err: err} })
}

func inviteCmd(ctrl Controller, rotate bool) tea.Cmd {
	var code string
	return call(ctrl, func(ctx context.Context, c Controller) (err error) {
		code, err = c.Invite(ctx, rotate)
		return err
	}, func(err error) tea.Msg { return InviteDoneMsg{Code: code, Rotated: rotate, Err: err} })
}

func kickCmd(ctrl Controller, userID, name string) tea.Cmd {
	return call(ctrl, func(ctx context.Context, c Controller) error { return c.Kick(ctx, userID) },
		func(err error) tea.Msg { return KickDoneMsg{Name: name, Err: err} })
}

// playlistCmd runs one playlist or speed command; what names it in errors.
func playlistCmd(ctrl Controller, what string, fn func(context.Context, Controller) error) tea.Cmd {
	return call(ctrl, fn, func(err error) tea.Msg { return PlaylistDoneMsg{What: what, Err: err} })
}
