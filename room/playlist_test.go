package room

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

func names(p Playlist) []string {
	var out []string
	for _, e := range p.Entries {
		out = append(out, e.Name)
	}
	return out
}

func TestPlaylistEdits(t *testing.T) {
	var p Playlist
	p.Current = -1
	for _, n := range []string{"/home/ana/anime/ep1.mkv", "ep2.mkv", "https://example.org/ep3.mp4"} {
		e, err := ParseEntry(n)
		if err != nil {
			t.Fatal(err)
		}
		if p, err = playlistAdd(p, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := names(p); !slices.Equal(got, []string{"ep1.mkv", "ep2.mkv", "https://example.org/ep3.mp4"}) {
		t.Fatalf("entries %q: a path must become its file name, a URL stay whole", got)
	}
	if _, err := playlistAdd(p, PlaylistEntry{Name: "ep2.mkv"}); err == nil {
		t.Fatal("a duplicate was added")
	}
	for _, bad := range []string{"", "   ", "/"} {
		if _, err := ParseEntry(bad); err == nil {
			t.Fatalf("ParseEntry(%q) accepted", bad)
		}
	}
	if i, err := playlistTarget(p, 0, 1); err != nil || i != 0 {
		t.Fatalf("next with nothing playing: %d %v, want the first", i, err)
	}
	p.Current = 1
	if i, _ := playlistTarget(p, 0, 1); i != 2 {
		t.Fatalf("next: %d", i)
	}
	if i, _ := playlistTarget(p, 0, -1); i != 0 {
		t.Fatalf("prev: %d", i)
	}
	p.Current = 2
	if _, err := playlistTarget(p, 0, 1); err == nil {
		t.Fatal("next past the end")
	}
	if _, err := playlistTarget(p, 4, 0); err == nil {
		t.Fatal("goto 4 of 3")
	}
	q, err := playlistRemove(p, 1)
	if err != nil || q.Current != 1 || !slices.Equal(names(q), []string{"ep2.mkv", "https://example.org/ep3.mp4"}) {
		t.Fatalf("remove before the current: %+v %v", q, err)
	}
	q, _ = playlistRemove(p, 3)
	if q.Current != -1 {
		t.Fatalf("removing the current entry leaves current %d", q.Current)
	}
	if len(p.Entries) != 3 {
		t.Fatal("an edit changed the playlist it was given")
	}
	for _, bad := range []Playlist{
		{Entries: []PlaylistEntry{{Name: "../etc/passwd"}}, Current: 0},
		{Entries: []PlaylistEntry{{Name: "a.mkv"}}, Current: 1},
		{Entries: []PlaylistEntry{{Name: "a.mkv", Size: -1}}, Current: -1},
	} {
		if validPlaylist(bad) == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}

func TestLocateByNameThenSize(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(a, "ep1.mkv"), []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "ep1.mkv"), []byte("the right one"), 0o644); err != nil {
		t.Fatal(err)
	}
	path, warn, err := locate(PlaylistEntry{Name: "ep1.mkv", Size: 13}, []string{a, b})
	if err != nil || path != filepath.Join(b, "ep1.mkv") || warn != "" {
		t.Fatalf("got %q %q %v, want the file of the right size", path, warn, err)
	}
	path, warn, err = locate(PlaylistEntry{Name: "ep1.mkv", Size: 99}, []string{a, b})
	if err != nil || path != filepath.Join(a, "ep1.mkv") || warn == "" {
		t.Fatalf("got %q %q %v, want the first with a warning", path, warn, err)
	}
	if _, _, err := locate(PlaylistEntry{Name: "ep2.mkv"}, []string{a, b}); err == nil {
		t.Fatal("found a missing file")
	}
}

// member joins a real server with a fake player; stop leaves the room.
func playlistMember(t *testing.T, url string, cfg Config) (r *Room, p *fakePlayer, stop func()) {
	t.Helper()
	c, err := realtime.NewClient(url, realtime.Options{Backoff: []time.Duration{50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	p = newFakePlayer()
	r, err = Join(ctx, c, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(runCtx); close(done) }()
	go func() {
		for range r.Events() {
		}
	}()
	var once bool
	stop = func() {
		if !once {
			once = true
			cancel()
			<-done
			c.Close()
		}
	}
	t.Cleanup(stop)
	return r, p, stop
}

func playlistOf(r *Room) Playlist {
	p, _ := r.Playlist(context.Background())
	return p
}

func memberIn(s Snapshot, id string) Member {
	for _, m := range s.Members {
		if m.UserID == id {
			return m
		}
	}
	return Member{}
}

// The playlist rules, against the embedded server with its store: only the
// host edits and moves, others propose and the host accepts, it is stored
// with the room, and a member who joins after the host left sees it.
func TestPlaylistRulesAndStore(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Config{Store: st})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	restSt := restStore(hs.URL)
	ctx := context.Background()

	hostDir, bobDir, carolDir := t.TempDir(), t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(hostDir, "ep1.mkv"), filepath.Join(hostDir, "ep2.mkv"), filepath.Join(bobDir, "ep1.mkv"), filepath.Join(bobDir, "ep2.mkv"), filepath.Join(carolDir, "ep1.mkv")} {
		if err := os.WriteFile(f, []byte("video"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := func(id string, host bool, dirs ...string) Config {
		c := fastConfig(id, host)
		c.RoomID, c.Store, c.MediaDirs = "series", restSt, dirs
		return c
	}
	alice, ap, stopAlice := playlistMember(t, hs.URL, cfg("alice", true, hostDir))
	ap.mu.Lock()
	ap.media.Filename = "ep1.mkv"
	ap.mu.Unlock()
	bob, bp, _ := playlistMember(t, hs.URL, cfg("bob", false, bobDir))
	carol, _, _ := playlistMember(t, hs.URL, cfg("carol", false, carolDir))
	for _, r := range []*Room{alice, bob, carol} {
		waitCond(t, "alice hosts", func() bool { s, _ := r.Snapshot(ctx); return s.HostID == "alice" && len(s.Members) == 3 })
	}
	// Alice opens ep1 in her mpv: the room's playlist takes it as its
	// current entry.
	ap.events <- playerEvent(player.EventFileLoaded, 0)
	waitCond(t, "the host's file is the current entry", func() bool {
		p := playlistOf(alice)
		return p.Current == 0 && slices.Equal(names(p), []string{"ep1.mkv"})
	})
	if err := alice.Add(ctx, "ep1.mkv"); err == nil {
		t.Fatal("added ep1.mkv twice")
	}
	if err := alice.Add(ctx, filepath.Join(hostDir, "ep2.mkv")); err != nil {
		t.Fatal(err)
	}
	if p := playlistOf(alice); p.Current != 0 || p.Entries[1].Size != 5 {
		t.Fatalf("an added file has its size: %+v", p)
	}
	waitCond(t, "bob and carol see the playlist", func() bool {
		return len(playlistOf(bob).Entries) == 2 && len(playlistOf(carol).Entries) == 2 && playlistOf(bob).Current == 0
	})

	// Only the host edits or moves.
	for what, err := range map[string]error{"remove": bob.Remove(ctx, 1), "goto": bob.Goto(ctx, 2), "next": bob.Next(ctx), "accept": bob.Accept(ctx, 0)} {
		if !errors.Is(err, ErrNotHost) {
			t.Fatalf("bob's %s: %v, want ErrNotHost", what, err)
		}
	}
	// A forged playlist from a follower is ignored by everyone.
	_ = bob.do(ctx, func() error {
		bob.post(typePlaylist, playlistPayload{UserID: "bob", Playlist: Playlist{Entries: []PlaylistEntry{{Name: "rickroll.mkv"}}, Current: 0}})
		return nil
	})

	// Bob proposes; alice accepts; everyone has it.
	if err := bob.Add(ctx, "ep3.mkv"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "alice has bob's proposal", func() bool {
		s, _ := alice.Snapshot(ctx)
		return len(s.Proposals) == 1 && s.Proposals[0].Entry.Name == "ep3.mkv" && s.Proposals[0].Username == "bob"
	})
	if len(playlistOf(alice).Entries) != 2 {
		t.Fatal("a proposal changed the playlist before the host accepted it")
	}
	if err := alice.Accept(ctx, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{"ep1.mkv", "ep2.mkv", "ep3.mkv"}
	waitCond(t, "everyone has the accepted entry, and not the forged playlist", func() bool {
		return slices.Equal(names(playlistOf(bob)), want) && slices.Equal(names(playlistOf(carol)), want)
	})

	// The host moves to entry 2: bob's player loads it from his folder,
	// carol lacks it and everyone sees that.
	if err := alice.Goto(ctx, 2); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bob's player loads ep2", func() bool { return slices.Contains(bp.Calls(), "load ep2.mkv") })
	waitCond(t, "carol shown missing ep2 to alice and to herself", func() bool {
		a, _ := alice.Snapshot(ctx)
		c, _ := carol.Snapshot(ctx)
		self, _ := c.Self()
		return memberIn(a, "carol").Missing == "ep2.mkv" && self.Missing == "ep2.mkv"
	})

	// Stored with the room.
	waitCond(t, "the stored playlist", func() bool {
		rs, ok, err := restSt.RoomState(ctx, "series")
		p, good := storedPlaylist(rs.Playlist)
		return err == nil && ok && good && p.Current == 1 && slices.Equal(names(p), want)
	})

	// Alice leaves; dave, joining the room after, sees the stored playlist.
	stopAlice()
	dave, _, _ := playlistMember(t, hs.URL, cfg("dave", false))
	waitCond(t, "dave sees the stored playlist", func() bool {
		p := playlistOf(dave)
		return p.Current == 1 && slices.Equal(names(p), want)
	})
}

// A follower that lacked the room's file finds it on /sync once it is in
// its folder.
func TestMissingFileFoundOnResync(t *testing.T) {
	bus := newFakeBus()
	dir := t.TempDir()
	host := addMember(t, bus, fastConfig("alice", true))
	cfg := fastConfig("bob", false)
	cfg.MediaDirs = []string{dir}
	bob := addMember(t, bus, cfg)
	bus.syncAll()
	waitCond(t, "bob follows alice", func() bool { return bob.snap(t).HostID == "alice" })
	ctx := context.Background()
	if err := host.room.Add(ctx, "ep9.mkv"); err != nil {
		t.Fatal(err)
	}
	_ = host.room.do(ctx, func() error {
		host.room.s.playlist.Current = 0
		host.room.publishPlaylist(false)
		return nil
	})
	waitCond(t, "bob misses ep9", func() bool { self, _ := bob.snap(t).Self(); return self.Missing == "ep9.mkv" })
	if err := os.WriteFile(filepath.Join(dir, "ep9.mkv"), []byte("video"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = bob.room.Resync(ctx)
	waitCond(t, "bob loads ep9 after /sync", func() bool { return slices.Contains(bob.player.Calls(), "load ep9.mkv") })
	if self, _ := bob.snap(t).Self(); self.Missing != "" {
		t.Fatalf("still missing %q", self.Missing)
	}
}
