package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/watchium/watchium-tui/player"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// The shared playlist: the host owns it and which entry plays; anyone may
// propose an entry, which the host accepts. It goes out whole on every
// change (our event; spec clients ignore it) and is stored with the room,
// so a member who (re)joins while the host is away still sees it. Entries
// are file names (or URLs), never paths: each member finds the file in
// their own media folders, as in Syncplay.

// Our playlist events.
const (
	typePlaylist = "playlist"         // host → room: the whole playlist
	typePropose  = "playlist_propose" // member → host: please add this
)

// Bounds, so one paste or a hostile client cannot grow the room's row
// without limit.
const (
	maxPlaylistEntries = 500
	maxEntryName       = 1024
	maxProposals       = 20
)

// PlaylistEntry is one file name (with size and duration once the host has
// loaded it) or a URL.
type PlaylistEntry struct {
	Name     string  `json:"name"`
	Size     int64   `json:"size,omitempty"`
	Duration float64 `json:"duration,omitempty"`
}

// IsURL reports whether the entry is a URL every member loads as it is.
func (e PlaylistEntry) IsURL() bool { return strings.Contains(e.Name, "://") }

// Playlist is the room's list and which entry plays (-1: none yet).
type Playlist struct {
	Entries []PlaylistEntry `json:"entries"`
	Current int             `json:"current"`
}

// CurrentEntry returns the playing entry, if there is one.
func (p Playlist) CurrentEntry() (PlaylistEntry, bool) {
	if p.Current < 0 || p.Current >= len(p.Entries) {
		return PlaylistEntry{}, false
	}
	return p.Entries[p.Current], true
}

// Index returns the position of the entry named name, or -1.
func (p Playlist) Index(name string) int {
	for i, e := range p.Entries {
		if e.Name == name {
			return i
		}
	}
	return -1
}

func (p Playlist) clone() Playlist {
	return Playlist{Entries: append([]PlaylistEntry(nil), p.Entries...), Current: p.Current}
}

// Proposal is an entry a member asked the host to add.
type Proposal struct {
	UserID   string        `json:"user_id"`
	Username string        `json:"username"`
	Entry    PlaylistEntry `json:"entry"`
}

type playlistPayload struct {
	UserID   string   `json:"user_id"`
	Playlist Playlist `json:"playlist"`
}

// ParseEntry makes an entry from what someone typed: a URL as it is, else
// only the file's name (a path stays on this machine).
func ParseEntry(s string) (PlaylistEntry, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return PlaylistEntry{}, errors.New("give a file name or a URL")
	}
	if len(s) > maxEntryName || !utf8.ValidString(s) {
		return PlaylistEntry{}, fmt.Errorf("an entry has at most %d bytes of UTF-8", maxEntryName)
	}
	e := PlaylistEntry{Name: s}
	if !e.IsURL() {
		e.Name = filepath.Base(s)
		if e.Name == "." || e.Name == string(filepath.Separator) {
			return PlaylistEntry{}, fmt.Errorf("%q is not a file name", s)
		}
	}
	return e, nil
}

// validPlaylist checks what arrives from the network or the store.
func validPlaylist(p Playlist) error {
	if len(p.Entries) > maxPlaylistEntries {
		return fmt.Errorf("playlist has %d entries, at most %d", len(p.Entries), maxPlaylistEntries)
	}
	if p.Current < -1 || p.Current >= len(p.Entries) {
		return fmt.Errorf("playlist current entry %d out of range", p.Current)
	}
	for _, e := range p.Entries {
		if e.Name == "" || len(e.Name) > maxEntryName || (!e.IsURL() && filepath.Base(e.Name) != e.Name) ||
			e.Size < 0 || math.IsNaN(e.Duration) || e.Duration < 0 {
			return fmt.Errorf("bad playlist entry %q", e.Name)
		}
	}
	return nil
}

// Pure playlist edits; numbers are 1-based as people type them.

func playlistAdd(p Playlist, e PlaylistEntry) (Playlist, error) {
	if i := p.Index(e.Name); i >= 0 {
		return p, fmt.Errorf("%q is already entry %d", e.Name, i+1)
	}
	if len(p.Entries) >= maxPlaylistEntries {
		return p, fmt.Errorf("the playlist is full (%d entries)", maxPlaylistEntries)
	}
	p = p.clone()
	p.Entries = append(p.Entries, e)
	return p, nil
}

func playlistRemove(p Playlist, n int) (Playlist, error) {
	if n < 1 || n > len(p.Entries) {
		return p, fmt.Errorf("no entry %d (the playlist has %d)", n, len(p.Entries))
	}
	i := n - 1
	p = p.clone()
	p.Entries = append(p.Entries[:i], p.Entries[i+1:]...)
	switch {
	case p.Current == i:
		p.Current = -1 // the playing file stays loaded; nothing is marked
	case p.Current > i:
		p.Current--
	}
	return p, nil
}

// playlistTarget is the 0-based entry /goto n, /next (delta +1) or /prev
// (delta -1) moves to.
func playlistTarget(p Playlist, n, delta int) (int, error) {
	if len(p.Entries) == 0 {
		return 0, errors.New("the playlist is empty (/add a file first)")
	}
	i := n - 1
	if delta != 0 {
		i = p.Current + delta
		if p.Current < 0 {
			i = 0
		}
	}
	if i < 0 || i >= len(p.Entries) {
		if delta > 0 {
			return 0, errors.New("this is the last entry")
		}
		if delta < 0 {
			return 0, errors.New("this is the first entry")
		}
		return 0, fmt.Errorf("no entry %d (the playlist has %d)", n, len(p.Entries))
	}
	return i, nil
}

// locate finds an entry in the media folders: by name, then its size (when
// the host knows it). A file of the same name but another size is used
// only if there is no better one, with a warning.
func locate(e PlaylistEntry, dirs []string) (path, warn string, err error) {
	if e.IsURL() {
		return e.Name, "", nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, e.Name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if e.Size > 0 && fi.Size() != e.Size {
			if path == "" {
				path, warn = p, fmt.Sprintf("your %q has %d bytes, the host's %d: it may be another version", e.Name, fi.Size(), e.Size)
			}
			continue
		}
		return p, "", nil
	}
	if path != "" {
		return path, warn, nil
	}
	if len(dirs) == 0 {
		return "", "", fmt.Errorf("%q is not here: no media folders (join --media-dir DIR)", e.Name)
	}
	return "", "", fmt.Errorf("%q is not in your media folders (%s)", e.Name, strings.Join(dirs, ", "))
}

// ---- room side ----

// publishPlaylist sends the playlist to the room and stores it (host).
func (r *Room) publishPlaylist(store bool) {
	s := &r.s
	if !s.isHost() {
		return
	}
	r.post(typePlaylist, playlistPayload{UserID: r.cfg.UserID, Playlist: s.playlist.clone()})
	if store {
		r.savePlaylist(s.playlist.clone())
	}
	r.publishSnapshot()
}

func (r *Room) savePlaylist(p Playlist) {
	st := r.store()
	if st == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.SavePlaylist(ctx, r.cfg.RoomID, p); err != nil {
			r.disableStore(err)
			if !errors.Is(err, ErrNoStore) {
				r.log.Warn("room: storing the playlist", "err", err)
			}
		}
	}()
}

// onPlaylist takes the host's playlist.
func (r *Room) onPlaylist(p playlistPayload) {
	s := &r.s
	if s.isHost() || p.UserID == "" || p.UserID != s.hostID {
		r.log.Debug("room: ignoring a playlist not from the host", "from", p.UserID)
		return
	}
	if err := validPlaylist(p.Playlist); err != nil {
		r.log.Warn("room: rejecting playlist", "err", err)
		return
	}
	r.takePlaylist(p.Playlist)
}

// takePlaylist makes p the room's playlist and loads its current entry if
// ours is another file.
func (r *Room) takePlaylist(p Playlist) {
	s := &r.s
	prev, hadPrev := s.playlist.CurrentEntry()
	s.playlist = p
	cur, ok := p.CurrentEntry()
	if ok && (!hadPrev || prev.Name != cur.Name || s.missing == cur.Name || s.media.Filename != cur.Name) {
		r.followEntry(cur)
	}
	r.publishSnapshot()
}

// followEntry loads the host's entry into our player, from our media
// folders; a member without the file is told which one and keeps chatting.
func (r *Room) followEntry(e PlaylistEntry) {
	s := &r.s
	if r.player == nil || s.isHost() {
		return
	}
	if e.Name == s.media.Filename && s.missing == "" && !s.ended {
		return // already playing it
	}
	if s.loading == e.Name {
		return
	}
	path, warn, err := locate(e, r.cfg.MediaDirs)
	if err != nil {
		if s.missing != e.Name {
			r.notice("missing %s; you can keep chatting (add its folder with --media-dir)", err)
		}
		s.missing = e.Name
		r.sendHeartbeat() // the host stops waiting for us at once
		r.trackSoon()
		return
	}
	if warn != "" {
		r.notice("%s", warn)
	}
	s.missing = ""
	r.loadEntry(path, e, func() {
		if s.anchor != nil && !s.detached {
			r.apply() // the host's timeline, now on this file
		}
	})
}

// switchQuiet is how long after we load another file the player's own
// pause and seek events (keep-open's pause at the end of the previous one)
// are not taken for the person's.
const switchQuiet = 2 * time.Second

// loadEntry loads path into our player, paused, on the worker (so a seek
// queued after it lands in the new file), then runs then.
func (r *Room) loadEntry(path string, e PlaylistEntry, then func()) {
	s := &r.s
	s.loading = e.Name
	s.switchUntil = r.now().Add(switchQuiet)
	r.resetSpeed()
	s.hold = nil
	s.unpauseGen++
	var mi player.MediaInfo
	var miErr error
	r.enqueue("load "+e.Name, func(ctx context.Context, p Player) error {
		if err := p.LoadFile(ctx, path, true); err != nil {
			return err
		}
		mi, miErr = p.Media(ctx) // on the worker: the room does not wait for mpv
		return nil
	}, func(err error) {
		if s.loading == e.Name {
			s.loading = ""
		}
		if err != nil {
			r.notice("could not load %s: %v", e.Name, err)
			return
		}
		s.ended = false
		s.switchUntil = r.now().Add(switchQuiet)
		s.tracker.Reset(r.player.State())
		s.seekCost.reset()
		if miErr != nil {
			r.log.Warn("room: reading what mpv plays", "err", miErr)
		} else {
			s.media = mediaIdentity(mi)
		}
		if e.Duration > 0 && s.media.Duration > 0 && math.Abs(e.Duration-s.media.Duration) > 1 {
			r.notice("your %q lasts %s, the host's %s: it may be another version", e.Name, ClockString(s.media.Duration), ClockString(e.Duration))
		}
		r.trackSoon()
		if then != nil {
			then()
		}
		r.publishSnapshot()
	})
}

// hostPlayEntry moves the room to entry i: the playlist goes out first (so
// followers start loading), our player loads it, and then everyone who has
// the file starts together (wait for everyone), or rests at its start.
func (r *Room) hostPlayEntry(i int, play bool) error {
	s := &r.s
	e := s.playlist.Entries[i]
	path, warn, err := locate(e, r.cfg.MediaDirs)
	if err != nil {
		return err
	}
	if warn != "" {
		r.notice("%s", warn)
	}
	s.playlist = s.playlist.clone()
	s.playlist.Current = i
	r.cancelRound("")
	r.publishPlaylist(true)
	r.loadEntry(path, e, func() { r.hostEntryLoaded(play) })
	return nil
}

// hostEntryLoaded: our player rests on the new entry's first frame; note
// what we know of the file, then start everyone together.
func (r *Room) hostEntryLoaded(play bool) {
	s := &r.s
	if !s.isHost() {
		return
	}
	if i := s.playlist.Current; i >= 0 && s.playlist.Entries[i].Name == s.media.Filename {
		e := &s.playlist.Entries[i]
		if e.Size != s.media.Size || e.Duration != s.media.Duration {
			e.Size, e.Duration = s.media.Size, s.media.Duration
			r.publishPlaylist(true)
		}
	}
	st := r.player.State()
	if !play {
		r.publishAnchor(TypePause)
		return
	}
	if r.beginRound(st.Pos, st.Speed) {
		s.round.landed = true // loaded paused on the first frame
		r.maybeStartRound()
		return
	}
	_ = r.schedulePlay()
}

// hostFileChanged: the host's mpv moved to another file by itself (its own
// playlist, the > key, or end of file with more files queued in mpv). The
// room moves with it: the entry becomes current (added if new) and
// everyone starts it together.
func (r *Room) hostFileChanged() {
	s := &r.s
	name := s.media.Filename
	if name == "" || s.loading != "" {
		return
	}
	if cur, ok := s.playlist.CurrentEntry(); ok && cur.Name == name {
		return // ours: hostPlayEntry loaded it
	}
	i := s.playlist.Index(name)
	if i < 0 {
		p, err := playlistAdd(s.playlist, PlaylistEntry{Name: name})
		if err != nil {
			r.notice("playlist: %v", err)
			return
		}
		s.playlist, i = p, len(p.Entries)-1
	}
	s.playlist = s.playlist.clone()
	s.playlist.Current = i
	s.playlist.Entries[i].Size, s.playlist.Entries[i].Duration = s.media.Size, s.media.Duration
	r.cancelRound("")
	r.publishPlaylist(true)
	play := !r.player.State().Paused
	s.switchUntil = r.now().Add(switchQuiet)
	r.enqueue("back to the new file's start", func(ctx context.Context, p Player) error {
		if err := p.Pause(ctx); err != nil {
			return err
		}
		if p.State().Pos > 0.01 {
			return p.Seek(ctx, 0)
		}
		return nil
	}, func(err error) {
		if err == nil {
			r.hostEntryLoaded(play)
		}
	})
}

// hostEndOfFile: our entry ended; the room moves on to the next one.
func (r *Room) hostEndOfFile() {
	s := &r.s
	if !s.isHost() || s.loading != "" {
		return
	}
	cur, ok := s.playlist.CurrentEntry()
	if !ok || cur.Name != s.media.Filename || s.playlist.Current+1 >= len(s.playlist.Entries) {
		return
	}
	next := s.playlist.Current + 1
	if err := r.hostPlayEntry(next, true); err != nil {
		r.notice("cannot play the next entry: %v", err)
	}
}

// onProposal: the host hears a member's proposal.
func (r *Room) onProposal(p Proposal) {
	s := &r.s
	if !s.isHost() || p.UserID == "" {
		return
	}
	e, err := ParseEntry(p.Entry.Name)
	if err != nil || s.playlist.Index(e.Name) >= 0 {
		return
	}
	for _, q := range s.proposals {
		if q.Entry.Name == e.Name {
			return
		}
	}
	if len(s.proposals) >= maxProposals {
		s.proposals = s.proposals[1:]
	}
	p.Entry = e
	p.Username = r.nameOf(p.UserID)
	s.proposals = append(s.proposals, p)
	r.notice("%s proposes %q: /accept %d adds it", p.Username, e.Name, len(s.proposals))
	r.publishSnapshot()
}

// storedPlaylist reads the playlist column of a stored room.
func storedPlaylist(raw string) (Playlist, bool) {
	if raw == "" {
		return Playlist{}, false
	}
	var p Playlist
	if err := json.Unmarshal([]byte(raw), &p); err != nil || validPlaylist(p) != nil {
		return Playlist{}, false
	}
	return p, true
}
