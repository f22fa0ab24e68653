package room

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"time"
)

// presenceMeta is what each member tracks on the channel (keyed by user_id).
// The spec's fields first; the rest let every client draw the same room and
// elect the same host without a server deciding.
type presenceMeta struct {
	UserID      string        `json:"user_id"`
	Username    string        `json:"username"`
	AvatarURL   string        `json:"avatar_url,omitempty"`
	CurrentTime float64       `json:"current_time"`
	IsPlaying   bool          `json:"is_playing"`
	IsHost      bool          `json:"is_host"`
	HostSince   float64       `json:"host_since,omitempty"` // ms; breaks ties between two claims
	JoinedAt    float64       `json:"joined_at"`            // ms; orders the succession
	Media       MediaIdentity `json:"media"`
	RTTMS       float64       `json:"rtt_ms"`
	OffsetMS    float64       `json:"offset_ms"`
	InSync      bool          `json:"in_sync"`
	Detached    bool          `json:"detached,omitempty"`
	// PlayerState is ok, seeking, buffering, gone (its mpv died) or none;
	// a seeking or buffering member waits, it does not drift, so it is not
	// out of sync.
	PlayerState   string `json:"player_state,omitempty"`
	BufferPercent int    `json:"buffer_percent,omitempty"`
	// Missing names the playlist entry this member does not have.
	Missing string `json:"missing,omitempty"`
}

// heartbeatExtra is the spec heartbeat plus what the members pane shows.
type heartbeatExtra struct {
	HeartbeatPayload
	IsPlaying bool    `json:"is_playing"`
	OffsetMS  float64 `json:"offset_ms"`
	RTTMS     float64 `json:"rtt_ms"`
	Detached  bool    `json:"detached,omitempty"`
	// PlayerState is ok, seeking, buffering, gone (mpv died) or none.
	PlayerState   string `json:"player_state,omitempty"`
	BufferPercent int    `json:"buffer_percent,omitempty"`
	// Missing names the playlist entry the member does not have.
	Missing string `json:"missing,omitempty"`
}

type memberInfo struct {
	meta     presenceMeta
	online   bool
	lastSeen time.Time
	// specOnly members run a client that knows only the spec (the seed's
	// web client): their presence has no joined_at, and they measure no
	// offset themselves, so the room works it out from their reports.
	specOnly bool
	// reportedAt is when a spec-only member last tracked its presence, so
	// the position can be carried forward while it plays; ref is that
	// track's phx_ref.
	reportedAt time.Time
	ref        string
	// removed: a member_removed named it (kicked). On Supabase its open
	// channel, and so its presence, outlive the kick: it is not shown,
	// elected or followed until it comes back after leaving.
	removed bool
	liveness
}

// here reports whether mi is an online member of the room.
func (mi *memberInfo) here() bool { return mi != nil && mi.online && !mi.removed }

// parsePresence reads one member's newest presence meta, whichever client
// tracked it: ours, or a spec client tracking {user_id, current_time,
// is_playing, username, avatar_url}.
func parsePresence(key string, data json.RawMessage) (m presenceMeta, specOnly bool) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		keys = nil
	}
	if err := json.Unmarshal(data, &m); err != nil || m.UserID == "" {
		m.UserID = key
	}
	if m.Username == "" {
		m.Username = key
	}
	if ValidTime(m.CurrentTime) != nil {
		m.CurrentTime = 0
	}
	_, ours := keys["joined_at"]
	return m, !ours
}

// specReportPosition is where a spec-only member is at now, from its last
// report: its presence is tracked every 3 s, so a playing member has moved on.
func specReportPosition(m presenceMeta, reportedAt, now time.Time) float64 {
	if !m.IsPlaying || reportedAt.IsZero() {
		return m.CurrentTime
	}
	return m.CurrentTime + now.Sub(reportedAt).Seconds()
}

func (r *Room) selfMeta() presenceMeta {
	s := &r.s
	m := presenceMeta{
		UserID: r.cfg.UserID, Username: s.username, AvatarURL: r.cfg.AvatarURL,
		IsHost: s.isHost(), JoinedAt: s.joinedAt, Media: s.media, Detached: s.detached, Missing: s.missing,
	}
	if m.IsHost {
		m.HostSince = s.hostSince
	}
	if r.player != nil {
		st := r.player.State()
		m.CurrentTime = round3(r.ownPosition(r.now()))
		m.IsPlaying = !st.Paused && st.Loaded && !s.gone
	}
	m.PlayerState, m.BufferPercent = r.playerState()
	off, ok := r.offsetToHost(r.now())
	m.OffsetMS = round1(off * 1000)
	m.InSync = r.inSync(ok, off) || busy(m.PlayerState) && !s.detached
	m.RTTMS = round1(r.rttMS())
	return m
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// SyncTolerance is the spec's in-sync rule: |host − member| ≤ 2 s.
const SyncTolerance = 2.0

// inSync is the spec's rule and not detached.
func (r *Room) inSync(known bool, off float64) bool {
	if r.s.gone {
		return false // a dead mpv is no player, never in sync
	}
	if r.s.isHost() {
		return true
	}
	return known && !r.s.detached && math.Abs(off) <= SyncTolerance
}

// referencePosition is where the host is at now, as this client knows it:
// its own player when it hosts, else the host's timeline.
func (r *Room) referencePosition(now time.Time) (float64, bool) {
	if r.s.isHost() {
		if r.player == nil {
			return 0, false
		}
		return r.ownPosition(now), true
	}
	return r.hostPosition(now)
}

// trackSoon schedules a presence track, batching changes for
// PresenceBatch and never tracking more often than PresenceInterval.
func (r *Room) trackSoon() {
	if r.s.trackQueued {
		return
	}
	r.s.trackQueued = true
	wait := r.cfg.PresenceBatch
	if since := r.now().Sub(r.s.lastTrack); since < r.cfg.PresenceInterval {
		wait = max(wait, r.cfg.PresenceInterval-since)
	}
	r.after(wait, &r.s.presenceGen, func() {
		r.s.trackQueued = false
		r.s.lastTrack = r.now()
		meta := r.selfMeta()
		r.s.tracked, r.s.trackedAt = meta, r.s.lastTrack
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.ch.Track(ctx, meta); err != nil {
				r.log.Warn("room: presence track", "err", err)
			}
		}()
	})
}

// onPresence rebuilds the member list from the channel's presence state,
// reports joins and leaves, and settles who hosts.
func (r *Room) onPresence(_ context.Context) {
	s := &r.s
	st := r.ch.PresenceState()
	now := r.now()
	seen := map[string]bool{}
	for key, metas := range st {
		if len(metas) == 0 {
			continue
		}
		// The newest meta wins (a member on two devices shows once).
		m, specOnly := parsePresence(key, metas[len(metas)-1].Data)
		seen[m.UserID] = true
		mi, ok := s.members[m.UserID]
		if !ok {
			mi = &memberInfo{}
			s.members[m.UserID] = mi
			if s.synced && m.UserID != r.cfg.UserID {
				r.notice("%s joined", m.Username)
			}
			mi.heardAt = now
		} else if !mi.online && m.UserID != r.cfg.UserID {
			mi.removed = false // back, so invited again
			if !mi.quietLeave {
				r.notice("%s is back", m.Username)
			}
			mi.heardAt = now
		}
		mi.quietLeave = false
		mi.meta, mi.online, mi.lastSeen, mi.specOnly = m, true, now, specOnly
		if ref := metas[len(metas)-1].Ref; specOnly && ref != mi.ref {
			// A web member's 3 s presence track (each has its own ref) is
			// its report and its heartbeat.
			mi.ref, mi.reportedAt = ref, now
			r.heard(m.UserID, mi, now)
			if m.UserID == s.hostID && !s.isHost() {
				r.onHostReport(m, now)
			}
		}
	}
	for id, mi := range s.members {
		if !seen[id] && mi.online && id != r.cfg.UserID {
			mi.online = false
			if !mi.removed { // its removal was the notice
				r.memberLeft(mi, now)
			}
		}
	}
	for id, mi := range s.members {
		if !mi.online && now.Sub(mi.lastSeen) > time.Minute {
			delete(s.members, id)
		}
	}
	first := !s.synced
	s.synced = true
	r.settleHost(first)
	r.checkMedia()
	r.publishSnapshot()
}

// checkMedia warns once per change when our file differs from the host's.
func (r *Room) checkMedia() {
	s := &r.s
	mi := s.members[s.hostID]
	if s.isHost() || mi == nil {
		return
	}
	key := mi.meta.Media.Filename + "|" + s.media.Filename
	if !r.roomMediaMismatch(s.media, mi.meta.Media) {
		s.mediaWarned = ""
		return
	}
	if s.mediaWarned != key {
		s.mediaWarned = key
		r.notice("different media: you play %q (%s), the host plays %q (%s)",
			s.media.Filename, ClockString(s.media.Duration), mi.meta.Media.Filename, ClockString(mi.meta.Media.Duration))
	}
}

// roomMediaMismatch: with a playlist, a file on it is the room's (right
// after a change of entry, presence still names the previous one for a few
// seconds; who lacks the current file is shown as missing instead).
func (r *Room) roomMediaMismatch(a, host MediaIdentity) bool {
	if len(r.s.playlist.Entries) > 0 && a.Filename != "" && r.s.playlist.Index(a.Filename) >= 0 {
		return false
	}
	return mediaMismatch(a, host)
}

func mediaMismatch(a, b MediaIdentity) bool {
	if a.Filename == "" || b.Filename == "" {
		return false
	}
	if a.Filename != b.Filename {
		return true
	}
	return a.Duration > 0 && b.Duration > 0 && math.Abs(a.Duration-b.Duration) > 1
}

// publishSnapshot sends the UI the room as it is now.
func (r *Room) publishSnapshot() { r.emit(StateChanged{Snapshot: r.snapshot()}) }

func (r *Room) snapshot() Snapshot {
	s := &r.s
	now := r.now()
	snap := Snapshot{RoomID: r.cfg.RoomID, Server: r.cfg.Server, SelfID: r.cfg.UserID, HostID: s.hostID, Conn: s.conn, Sync: s.stats}
	if s.round != nil {
		for id := range s.round.waiting {
			snap.WaitingFor = append(snap.WaitingFor, r.nameOf(id))
		}
		sort.Strings(snap.WaitingFor)
	}
	var hostMedia MediaIdentity
	if mi := s.members[s.hostID]; mi != nil {
		hostMedia = mi.meta.Media
	}
	if s.isHost() {
		hostMedia = s.media
	}
	self := r.selfMeta()
	if r.player != nil {
		snap.SelfPosition = self.CurrentTime
		snap.Playing = self.IsPlaying
	}
	if hp, ok := r.hostPosition(now); ok {
		snap.HostPosition = hp
	} else if s.isHost() {
		snap.HostPosition = snap.SelfPosition
	}
	snap.RTT = time.Duration(self.RTTMS * float64(time.Millisecond))
	list := make([]Member, 0, len(s.members)+1)
	for id, mi := range s.members {
		if id == r.cfg.UserID || mi.removed {
			continue
		}
		m := mi.meta
		if mi.specOnly {
			m.CurrentTime = round3(specReportPosition(m, mi.reportedAt, now))
			m.Detached = false
			if id == s.hostID {
				m.InSync = true
			} else if ref, ok := r.referencePosition(now); ok {
				off := m.CurrentTime - ref
				m.OffsetMS, m.InSync = round1(off*1000), math.Abs(off) <= SyncTolerance
			}
		}
		if id == s.hostID && s.anchor != nil {
			// The host's timeline is fresher than its last heartbeat.
			m.IsPlaying = s.anchor.Playing
			m.CurrentTime = round3(snap.HostPosition)
		}
		list = append(list, Member{
			UserID: id, Username: m.Username, AvatarURL: m.AvatarURL,
			IsHost: id == s.hostID, Online: mi.online, Position: m.CurrentTime, Playing: m.IsPlaying,
			InSync: (id == s.hostID || m.InSync && !m.Detached) && !mi.silent && m.PlayerState != playerGoneState, OffsetMS: m.OffsetMS, Detached: m.Detached,
			NotResponding: mi.silent,
			RTT:           time.Duration(m.RTTMS * float64(time.Millisecond)),
			Media:         m.Media, MediaMismatch: id != s.hostID && r.roomMediaMismatch(m.Media, hostMedia),
			JoinedAt: time.UnixMilli(int64(m.JoinedAt)), PlayerState: m.PlayerState, BufferPercent: m.BufferPercent,
			Missing: m.Missing,
		})
	}
	list = append(list, Member{
		UserID: r.cfg.UserID, Username: s.username, AvatarURL: r.cfg.AvatarURL, IsSelf: true,
		IsHost: s.isHost(), Online: true, Position: self.CurrentTime, Playing: self.IsPlaying,
		InSync: self.InSync, OffsetMS: self.OffsetMS, Detached: s.detached, RTT: snap.RTT,
		Media: s.media, MediaMismatch: !s.isHost() && r.roomMediaMismatch(s.media, hostMedia),
		JoinedAt: time.UnixMilli(int64(s.joinedAt)), PlayerState: self.PlayerState, BufferPercent: self.BufferPercent,
		Missing: s.missing,
	})
	sort.Slice(list, func(i, j int) bool {
		if list[i].IsHost != list[j].IsHost {
			return list[i].IsHost
		}
		if !list[i].JoinedAt.Equal(list[j].JoinedAt) {
			return list[i].JoinedAt.Before(list[j].JoinedAt)
		}
		return list[i].UserID < list[j].UserID
	})
	snap.Members = list
	snap.Playlist = s.playlist.clone()
	snap.Duration = hostMedia.Duration
	if snap.Duration == 0 {
		snap.Duration = s.media.Duration
	}
	switch {
	case s.round != nil:
		snap.Seeking, snap.SeekTarget = true, s.round.pos
	case s.isHost() && r.player != nil && r.player.State().Seeking:
		snap.Seeking, snap.SeekTarget = true, r.player.State().Pos
	case !s.isHost() && s.anchor != nil && s.anchor.Seeking:
		snap.Seeking, snap.SeekTarget = true, s.anchor.Pos
	}
	snap.Speed = r.baseSpeed()
	if s.isHost() && r.player != nil && r.player.State().Speed > 0 {
		snap.Speed = r.player.State().Speed
	}
	snap.Proposals = append([]Proposal(nil), s.proposals...)
	return snap
}
