package room

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// The playlist's commands: the host edits and moves it, anyone else proposes.

func (r *Room) mayEditPlaylist() error {
	if !r.s.isHost() {
		return fmt.Errorf("%w: %s hosts the playlist; /add proposes an entry to them", ErrNotHost, r.nameOf(r.s.hostID))
	}
	return nil
}

// Add puts an entry on the playlist (host) or proposes it to the host.
func (r *Room) Add(ctx context.Context, what string) error {
	e, err := ParseEntry(what)
	if err != nil {
		return err
	}
	return r.do(ctx, func() error {
		s := &r.s
		if !s.isHost() {
			r.post(typePropose, Proposal{UserID: r.cfg.UserID, Username: s.username, Entry: e})
			r.notice("proposed %q to %s", e.Name, r.nameOf(s.hostID))
			return nil
		}
		return r.hostAdd(e)
	})
}

func (r *Room) hostAdd(e PlaylistEntry) error {
	s := &r.s
	if !e.IsURL() {
		if path, _, err := locate(e, r.cfg.MediaDirs); err == nil {
			if fi, err := os.Stat(path); err == nil {
				e.Size = fi.Size()
			}
		}
	}
	p, err := playlistAdd(s.playlist, e)
	if err != nil {
		return err
	}
	if p.Current < 0 && e.Name == s.media.Filename {
		// The file we already play: it is the current entry.
		p.Current = len(p.Entries) - 1
		p.Entries[p.Current].Size, p.Entries[p.Current].Duration = s.media.Size, s.media.Duration
	}
	s.playlist = p
	for i, q := range s.proposals {
		if q.Entry.Name == e.Name {
			s.proposals = append(s.proposals[:i:i], s.proposals[i+1:]...)
			break
		}
	}
	r.publishPlaylist(true)
	return nil
}

// Accept adds the n-th pending proposal (1-based; 0 is the latest).
func (r *Room) Accept(ctx context.Context, n int) error {
	return r.do(ctx, func() error {
		s := &r.s
		if err := r.mayEditPlaylist(); err != nil {
			return err
		}
		if len(s.proposals) == 0 {
			return errors.New("no proposals to accept")
		}
		if n == 0 {
			n = len(s.proposals)
		}
		if n < 1 || n > len(s.proposals) {
			return fmt.Errorf("no proposal %d (there are %d)", n, len(s.proposals))
		}
		return r.hostAdd(s.proposals[n-1].Entry)
	})
}

// Remove drops entry n (host).
func (r *Room) Remove(ctx context.Context, n int) error {
	return r.do(ctx, func() error {
		if err := r.mayEditPlaylist(); err != nil {
			return err
		}
		p, err := playlistRemove(r.s.playlist, n)
		if err != nil {
			return err
		}
		r.s.playlist = p
		r.publishPlaylist(true)
		return nil
	})
}

// Goto plays entry n (host); Next and Prev move by one.
func (r *Room) Goto(ctx context.Context, n int) error { return r.move(ctx, n, 0) }

// Next plays the next entry (host).
func (r *Room) Next(ctx context.Context) error { return r.move(ctx, 0, 1) }

// Prev plays the previous entry (host).
func (r *Room) Prev(ctx context.Context) error { return r.move(ctx, 0, -1) }

func (r *Room) move(ctx context.Context, n, delta int) error {
	return r.do(ctx, func() error {
		if err := r.mayControl(); err != nil {
			return err
		}
		i, err := playlistTarget(r.s.playlist, n, delta)
		if err != nil {
			return err
		}
		st := r.player.State()
		return r.hostPlayEntry(i, st.Loaded && !st.Paused || r.s.round != nil)
	})
}

// Playlist returns the room's playlist as this client knows it.
func (r *Room) Playlist(ctx context.Context) (Playlist, error) {
	var p Playlist
	err := r.do(ctx, func() error { p = r.s.playlist.clone(); return nil })
	return p, err
}
