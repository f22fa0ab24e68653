package trust

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// claimWindow is the host gate's window in this test (20 s by default;
// the embedded server's claim_host answers at once, Supabase's after 15 s
// of host silence).
const claimWindow = 3 * time.Second

// On a server that, like Supabase, checks who may join a channel but not
// who sends on it, the host leaves and a hostile member (a raw client with
// a valid token and its own key on its room_members row) claims the role:
// a presence saying it hosts and joined first, a new_host naming itself,
// and pauses, all signed with its key. The follower's real mpv never
// follows it; the successor the clients elect is followed once the
// database (claim_host) names it, and the hostile claim is counted as
// refused.
func TestSupabaseLikeServerHostileSuccession(t *testing.T) {
	needMPV(t)
	base, st := startServerWith(t, func(c *server.Config) { c.SupabaseLike = true })
	const roomID = "loose"
	ana, carol, bob, eve := signUp(t, base, "ana"), signUp(t, base, "carol"), signUp(t, base, "bob"), signUp(t, base, "eve")
	window := func(c *room.Config) { c.HostClaimWindow = claimWindow }
	host := joinAs(t, base, roomID, ana, "ana", true, false, window)
	eventually(t, 10*time.Second, "ana hosts", func() bool { return host.hostID(t) == ana.ID })
	successor := joinAs(t, base, roomID, carol, "carol", false, false, window)
	eventually(t, 10*time.Second, "carol follows ana", func() bool { return successor.hostID(t) == ana.ID })
	follower := joinAs(t, base, roomID, bob, "bob", false, false, window)
	eventually(t, 10*time.Second, "bob follows ana", func() bool { return follower.hostID(t) == ana.ID })

	// Eve: a member like any other, with a key on her own row.
	ctx := context.Background()
	eveKey := room.NewSigningKey()
	rc, err := rest.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	eveStore := roomrest.Store{C: rc.WithAccessToken(func() string { return eve.Token })}
	if err := eveStore.Enter(ctx, roomID, room.MemberPayload{UserID: eve.ID, Username: "eve", PublicKey: room.EncodePublicKey(eveKey.Public().(ed25519.PublicKey))}); err != nil {
		t.Fatalf("eve's row: %v", err)
	}
	hostile := dialRaw(t, base, "realtime:room:"+roomID, eve.Token)

	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	offset := func(a, b *peer) float64 {
		now := time.Now()
		return a.mpv.State().PositionAt(now) - b.mpv.State().PositionAt(now)
	}
	eventually(t, 15*time.Second, "bob and carol playing in step with ana", func() bool {
		return !follower.mpv.State().Paused && math.Abs(offset(follower, host)) < 0.1 && math.Abs(offset(successor, host)) < 0.1
	})

	// Eve's presence claims the role; nothing on this server stops it.
	if st, resp := hostile.call("presence", map[string]any{"type": "presence", "event": "track", "payload": map[string]any{
		"user_id": eve.ID, "username": "eve", "is_host": true, "host_since": 1, "joined_at": 1,
		"media": map[string]any{"filename": "movie.mkv"}, "current_time": 5, "is_playing": false,
	}}); st != "ok" {
		t.Fatalf("eve's track: %s %v", st, resp)
	}
	signed := func(typ string, payload any) json.RawMessage {
		env, err := room.NewEnvelope(typ, roomID, payload, time.Now())
		if err == nil {
			env, err = room.SignEnvelope(eveKey, env)
		}
		var wire json.RawMessage
		if err == nil {
			wire, err = env.Wire()
		}
		if err != nil {
			t.Fatal(err)
		}
		return wire
	}

	// Ana leaves; eve claims for the whole window and then some.
	host.leave()
	left := time.Now()
	var pausedSeen, eveFollowed bool
	for i := 1; time.Since(left) < claimWindow+time.Second; i++ {
		for _, ev := range []struct {
			typ     string
			payload any
		}{
			{room.TypeNewHost, room.NewHostPayload{UserID: eve.ID, Username: "eve"}},
			{room.TypePause, room.PlaybackPayload{CurrentTime: 5, UserID: eve.ID, Username: "eve", Seq: uint64(1000 * i), Epoch: "eve", Speed: 1, AtMS: float64(time.Now().UnixMilli())}},
		} {
			if st, resp := hostile.call("broadcast", map[string]any{"type": "broadcast", "event": ev.typ, "payload": signed(ev.typ, ev.payload)}); st != "ok" {
				t.Fatalf("a Supabase-like server refused eve's %s: %s %v", ev.typ, st, resp)
			}
		}
		eveFollowed = eveFollowed || follower.hostID(t) == eve.ID || successor.hostID(t) == eve.ID
		pausedSeen = pausedSeen || follower.mpv.State().Paused
		time.Sleep(100 * time.Millisecond) // pacing the attack, not waiting for a condition
	}
	if eveFollowed {
		t.Error("a follower took eve, whom the database never named, as its host")
	}
	if pausedSeen {
		t.Error("bob's mpv paused during eve's claim")
	}

	// The successor the clients elect is the one the database names, and
	// bob follows her.
	eventually(t, claimWindow+10*time.Second, "the database names carol", func() bool {
		rows, err := st.Select(ctx, "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{roomID}}}})
		return err == nil && len(rows) == 1 && rows[0]["host_user_id"] == carol.ID
	})
	eventually(t, 10*time.Second, "bob follows carol", func() bool { return follower.hostID(t) == carol.ID })
	t.Logf("bob follows carol %v after ana left", time.Since(left).Round(time.Millisecond))
	if h := successor.hostID(t); h != carol.ID {
		t.Fatalf("carol's own view: host %q", h)
	}
	eventually(t, 10*time.Second, "bob playing in step with carol", func() bool {
		return !follower.mpv.State().Paused && math.Abs(offset(follower, successor)) < 0.1
	})
	snap, err := follower.room.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bob's sync stats: %+v", snap.Sync)
	if snap.Sync.RefusedHosts < 1 {
		t.Errorf("RefusedHosts = %d, want eve's claim counted", snap.Sync.RefusedHosts)
	}
	// Ana's recorded controls came back as the server's unsigned copies:
	// none of them is counted as a forgery.
	if snap.Sync.Unverified != 0 {
		t.Errorf("Unverified = %d; the server's copies of recorded controls are not forgeries", snap.Sync.Unverified)
	}
	// The new host steers.
	if err := successor.room.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob paused by carol", func() bool { return follower.mpv.State().Paused })
}
