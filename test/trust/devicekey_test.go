package trust

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
)

// The host's user joins the room from another device (a second terminal
// elsewhere), whose key replaces the one on the user's room_members row.
// The host puts its own key back while it hosts, the follower reads the
// key again when the host's events stop verifying, and the follower's real
// mpv follows the host's next pause.
func TestHostKeyReplacedByAnotherDevice(t *testing.T) {
	needMPV(t)
	base, _ := startServer(t)
	const roomID = "devices"
	ana, bob := signUp(t, base, "ana"), signUp(t, base, "bob")
	host := joinRoom(t, base, roomID, ana, "ana", true)
	eventually(t, 10*time.Second, "ana hosts", func() bool { return host.hostID(t) == ana.ID })
	ctx := context.Background()
	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}

	// Ana's other device registers its own key on her row; then bob joins
	// and reads that key, not the one the running host signs with.
	rc, err := rest.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	other := roomrest.Store{C: rc.WithAccessToken(func() string { return ana.Token })}
	elsewhere := room.NewSigningKey()
	if err := other.Enter(ctx, roomID, room.MemberPayload{UserID: ana.ID, Username: "ana", PublicKey: room.EncodePublicKey(elsewhere.Public().(ed25519.PublicKey))}); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	follower := joinRoom(t, base, roomID, bob, "bob", false)
	eventually(t, 10*time.Second, "bob follows ana", func() bool { return follower.hostID(t) == ana.ID })
	// Bob's mpv (started paused) can only start on an event from ana that
	// verifies. Within one host_alive round (6 s) ana puts her key back on
	// her row; within 5 s of a failure bob reads it again.
	eventually(t, 20*time.Second, "bob playing with ana", func() bool { return !follower.mpv.State().Paused })
	t.Logf("bob followed ana %v after her row's key was replaced", time.Since(replaced).Round(time.Millisecond))
	if err := host.room.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob paused by ana", func() bool { return follower.mpv.State().Paused })
	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob playing again with ana", func() bool { return !follower.mpv.State().Paused })
	snap, err := follower.room.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bob's sync stats: %+v", snap.Sync)
}
