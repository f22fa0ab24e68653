package room

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/watchium/watchium-tui/internal/ids"
)

// Commands the UI and the CLI call. Each runs on the room's goroutine and
// returns once done.

// Play starts playback for everyone (host only).
// Unlike a play in mpv itself, it is scheduled a few tens of ms ahead so
// that everyone starts on the same frame even over a slow link.
func (r *Room) Play(ctx context.Context) error {
	return r.do(ctx, func() error {
		if err := r.mayControl(); err != nil {
			return err
		}
		return r.schedulePlay()
	})
}

// Pause pauses everyone (host only).
func (r *Room) Pause(ctx context.Context) error {
	return r.hostAction(ctx, "pause", func(ctx context.Context, p Player) error { return p.Pause(ctx) })
}

// Seek moves everyone to seconds (host only).
func (r *Room) Seek(ctx context.Context, seconds float64) error {
	if err := ValidTime(seconds); err != nil {
		return err
	}
	return r.hostAction(ctx, "seek", func(ctx context.Context, p Player) error { return p.Seek(ctx, seconds) })
}

// SeekRelative moves everyone by delta seconds (host only).
func (r *Room) SeekRelative(ctx context.Context, delta float64) error {
	if err := ValidTime(max(delta, -delta)); err != nil {
		return err
	}
	return r.hostAction(ctx, "seek", func(ctx context.Context, p Player) error {
		return p.SeekRelative(ctx, delta)
	})
}

// Speed bounds for /speed: beyond them speech is unintelligible and mpv's
// audio filter struggles.
const (
	MinSpeed = 0.25
	MaxSpeed = 4.0
)

// SetSpeed sets everyone's playback speed (host only).
func (r *Room) SetSpeed(ctx context.Context, speed float64) error {
	if math.IsNaN(speed) || speed < MinSpeed || speed > MaxSpeed {
		return fmt.Errorf("speed %v: give a number from %g to %g (1 is normal)", speed, MinSpeed, MaxSpeed)
	}
	// Our own mpv's speed change goes out as the room's timeline.
	return r.hostAction(ctx, "speed", func(ctx context.Context, p Player) error { return p.SetSpeed(ctx, speed) })
}

// mayControl says why we may not steer playback, if we may not.
func (r *Room) mayControl() error {
	if r.player == nil {
		return ErrNoPlayer
	}
	if !r.s.isHost() {
		return fmt.Errorf("%w: %s hosts; /sync follows them, or ask them for /host", ErrNotHost, r.nameOf(r.s.hostID))
	}
	return nil
}

// hostAction runs fn on our player once the room agrees we host, and
// returns when it is done. The command goes through the player worker, so
// the room keeps handling the events fn causes (a seek's start, which
// followers need at once) while it runs.
func (r *Room) hostAction(ctx context.Context, what string, fn func(context.Context, Player) error) error {
	done := make(chan error, 1)
	err := r.do(ctx, func() error {
		if err := r.mayControl(); err != nil {
			return err
		}
		// The host's own mpv event turns into the broadcast.
		r.enqueue(what, fn, func(err error) { done <- err })
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return ErrClosed
	}
}

// HandOver gives the host role to userID (host only).
func (r *Room) HandOver(ctx context.Context, userID string) error {
	check := func() (*memberInfo, error) {
		s := &r.s
		if !s.isHost() {
			return nil, fmt.Errorf("%w: only %s can hand the role over", ErrNotHost, r.nameOf(s.hostID))
		}
		mi := s.members[userID]
		if userID != r.cfg.UserID && (mi == nil || !mi.online) {
			return nil, fmt.Errorf("%s is not in the room", userID)
		}
		return mi, nil
	}
	if err := r.do(ctx, func() error { _, err := check(); return err }); err != nil || userID == r.cfg.UserID {
		return err
	}
	// The database first (hand_over), from this goroutine, so it can never
	// land after a later change of host; best effort, as the room is told
	// either way.
	if st := r.store(); st != nil {
		if err := r.noteHostErr(st.HandOver(ctx, r.cfg.RoomID, userID)); err != nil && !errors.Is(err, ErrNoStore) {
			if r.gated() && errors.Is(err, ErrRefused) {
				// Where the database records hosts, a hand-over it refused
				// did not happen: followers would wait for it in vain.
				return fmt.Errorf("the room's record refused the hand-over: %w", err)
			}
			r.log.Warn("room: the database did not record the hand-over", "to", userID, "err", err)
		}
	}
	return r.do(ctx, func() error {
		mi, err := check()
		if err != nil {
			return err
		}
		r.post(TypeNewHost, NewHostPayload{UserID: userID, Username: mi.meta.Username})
		r.setHost(userID, wallMS(r.now()), true)
		r.notice("you handed the host role to %s", mi.meta.Username)
		return nil
	})
}

// Resync follows the host again after the person took over their mpv.
func (r *Room) Resync(ctx context.Context) error {
	return r.do(ctx, func() error {
		s := &r.s
		if s.isHost() {
			return errors.New("you are the host: everyone follows you")
		}
		if r.player == nil {
			return ErrNoPlayer
		}
		if s.anchor == nil {
			r.requestState()
			return errors.New("waiting for the host's position; try again in a moment")
		}
		s.detached = false
		if cur, ok := s.playlist.CurrentEntry(); ok && s.missing != "" {
			r.followEntry(cur) // perhaps the file is in our folders now
		}
		r.apply()
		r.trackSoon()
		r.sendHeartbeat()
		return nil
	})
}

// SetName changes the name others see.
func (r *Room) SetName(ctx context.Context, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 32 {
		return errors.New("a name has 1 to 32 characters")
	}
	return r.do(ctx, func() error {
		r.s.username = name
		r.trackSoon()
		r.publishSnapshot()
		return nil
	})
}

// Say posts a chat message and returns once the server has it. While the
// server cannot be reached the message waits (in order, at most 100) and is
// sent when it is back; Say then returns nil at once and a notice says so.
func (r *Room) Say(ctx context.Context, text string) error {
	var name string
	if err := r.do(ctx, func() error { name = r.s.username; return nil }); err != nil {
		return err
	}
	c, err := NewComment(r.cfg.RoomID, r.cfg.UserID, name, text)
	if err != nil {
		return err
	}
	if queued, err := r.outbox.hold(r, c, false); queued || err != nil {
		return err // earlier messages are still waiting: this one goes after them
	}
	err = PostComment(ctx, r.store(), r.ch, c)
	var notStored *NotStoredError
	switch {
	case errors.As(err, &notStored) && transient(ctx, notStored.Err):
		if _, err := r.outbox.hold(r, c, true); err != nil {
			return err
		}
		r.notice("the server cannot be reached: your message will be sent when it is back")
		return nil
	case errors.Is(err, ErrStoredOnly):
		// Durable, and members who listen to postgres_changes get it.
		r.log.Warn("room: chat message stored but not broadcast", "err", err)
	case err != nil:
		return err
	}
	r.deliverComment(c)
	return nil
}

// ErrStoredOnly means a message was stored but its broadcast failed: it is
// not lost (history and postgres_changes carry it), but members that only
// listen to broadcasts see it late or not at all.
var ErrStoredOnly = errors.New("message stored, but its broadcast failed")

// NotStoredError is a store's refusal or failure to keep a message: it was
// not broadcast either.
type NotStoredError struct{ Err error }

func (e *NotStoredError) Error() string { return "message not sent: " + e.Err.Error() }
func (e *NotStoredError) Unwrap() error { return e.Err }

// PostComment is the one way a message enters a room, for Room.Say and for
// `watchium-tui say`. It is stored first when st keeps history: then it
// survives a restart, and members listening to postgres_changes get it.
// Then it is broadcast as new_comment for clients that only listen to
// broadcasts (the spec's web client). A store without our tables
// (ErrNoStore) leaves the broadcast to carry it alone.
func PostComment(ctx context.Context, st Store, ch Channel, c Comment) error {
	if st != nil {
		err := st.AddComment(ctx, c)
		if err == nil {
			if err := SendComment(ctx, ch, c); err != nil {
				return fmt.Errorf("%w: %w", ErrStoredOnly, err)
			}
			return nil
		}
		if !errors.Is(err, ErrNoStore) {
			return &NotStoredError{Err: err}
		}
	}
	return SendComment(ctx, ch, c)
}

// NewComment builds a chat message, refusing empty or oversized text.
func NewComment(roomID, userID, username, text string) (Comment, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Comment{}, errors.New("empty message")
	}
	if len(text) > MaxCommentLength {
		return Comment{}, fmt.Errorf("message too long (%d bytes, at most %d)", len(text), MaxCommentLength)
	}
	return Comment{
		ID: ids.New(), RoomID: roomID, UserID: userID, Username: username, Content: text,
		CreatedAt: time.Now().UTC().Format(commentTimeLayout), // µs, as timestamptz: orders messages sent in one ms
	}, nil
}

// cutUTF8 shortens s to at most n bytes without splitting a character (a
// cut in the middle of one would show as U+FFFD and fail the database's
// text checks).
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SendComment broadcasts c as new_comment and waits for the server to have
// it; used by Room.Say and by `watchium-tui say`.
func SendComment(ctx context.Context, ch Channel, c Comment) error {
	env, err := NewEnvelope(TypeNewComment, c.RoomID, c, time.Now())
	if err != nil {
		return err
	}
	wire, err := env.Wire()
	if err != nil {
		return err
	}
	if err := ch.Send(ctx, TypeNewComment, wire); err != nil {
		return fmt.Errorf("message not sent: %w", err)
	}
	return nil
}

// Snapshot returns the room as this client sees it now.
func (r *Room) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	err := r.do(ctx, func() error { s = r.snapshot(); return nil })
	return s, err
}

// commentTimeLayout is created_at's format: microseconds, as timestamptz,
// so messages sent within one millisecond keep their order.
const commentTimeLayout = "2006-01-02T15:04:05.000000Z07:00"
