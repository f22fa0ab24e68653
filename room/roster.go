package room

import (
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// RosterMember is one member as an onlooker sees it, and the JSON form of
// `watchium-tui members --json`.
type RosterMember struct {
	UserID      string  `json:"user_id"`
	Username    string  `json:"username"`
	IsHost      bool    `json:"is_host"`
	CurrentTime float64 `json:"current_time"`
	IsPlaying   bool    `json:"is_playing"`
	InSync      bool    `json:"in_sync"`
	OffsetMS    float64 `json:"offset_ms"`
	RTTMS       float64 `json:"rtt_ms"`
	Detached    bool    `json:"detached,omitempty"`
	Media       string  `json:"media,omitempty"`
	// Client is "watchium" for our clients and "web" for a client that
	// speaks only the spec (its sync is worked out from its reports).
	Client string `json:"client"`
	// PlayerState is ok, seeking, buffering, gone (its mpv died) or none.
	PlayerState   string `json:"player_state,omitempty"`
	BufferPercent int    `json:"buffer_percent,omitempty"`
	// Responding is false for a member that reported nothing while we
	// listened (no heartbeat; a web member: no presence): a dead link or
	// a stopped process the server has not dropped yet.
	Responding bool `json:"responding"`
	// Missing names the playlist entry the member does not have.
	Missing string `json:"missing,omitempty"`
}

// Roster is a room's member list for a client that watches without taking
// part (watchium-tui members): presence says who is here, and each member's
// freshest report (its presence or its 3 s heartbeat) where it is. Not safe
// for concurrent use.
type Roster struct {
	members map[string]*rosterEntry
	primed  bool // the first presence state was taken
	// StoredHost is the host the server's stored room names: a web host
	// holds the role there, not in its presence.
	StoredHost string
}

type rosterEntry struct {
	meta     presenceMeta
	specOnly bool
	// report is the freshest position the member gave, and when it came.
	pos        float64
	playing    bool
	reportedAt time.Time
	synced     bool // the member's own in-sync verdict (ours only)
	offsetMS   float64
	// stale is true while the only report is the presence state found on
	// arrival: it was tracked up to a period ago.
	stale bool
	ref   string // the presence track the report came from
}

// NewRoster returns an empty roster.
func NewRoster() *Roster { return &Roster{members: map[string]*rosterEntry{}} }

// Presence takes the channel's presence state, received at now.
func (r *Roster) Presence(st map[string][]realtime.Presence, now time.Time) {
	seen := map[string]bool{}
	for key, metas := range st {
		if len(metas) == 0 {
			continue
		}
		m, specOnly := parsePresence(key, metas[len(metas)-1].Data)
		seen[m.UserID] = true
		e := r.members[m.UserID]
		if e == nil {
			e = &rosterEntry{stale: !r.primed}
			r.members[m.UserID] = e
		}
		if ref := metas[len(metas)-1].Ref; ref != e.ref {
			// A new track (each has its own ref): a report, even when it
			// says the same as the last (a paused member).
			e.ref = ref
			e.pos, e.playing, e.reportedAt = m.CurrentTime, m.IsPlaying, now
			e.synced, e.offsetMS = m.InSync, m.OffsetMS
			e.stale = e.stale && !r.primed
		}
		e.meta, e.specOnly = m, specOnly
	}
	r.primed = true
	for id := range r.members {
		if !seen[id] {
			delete(r.members, id)
		}
	}
}

// Broadcast takes an event from the channel: heartbeats refresh a member's
// position between its presence updates.
func (r *Roster) Broadcast(b realtime.Broadcast) {
	env, err := DecodeBroadcast(b)
	if err != nil || env.Type != TypeHeartbeat {
		return
	}
	var hb heartbeatExtra
	if json.Unmarshal(env.Payload, &hb) != nil || ValidTime(hb.CurrentTime) != nil {
		return
	}
	if e := r.members[hb.UserID]; e != nil {
		e.pos, e.playing, e.reportedAt, e.stale = hb.CurrentTime, hb.IsPlaying, b.At, false
		e.synced, e.offsetMS, e.meta.Detached = hb.IsSynced, hb.OffsetMS, hb.Detached
		e.meta.PlayerState, e.meta.BufferPercent = hb.PlayerState, hb.BufferPercent
		e.meta.Missing = hb.Missing
	}
}

// Reported reports whether every member has reported since the roster
// first looked, so an onlooker knows its figures are current.
// A paused web member is not waited for: it re-tracks nothing new, and
// what it said still holds. An empty roster has not reported: a member
// tracks a moment after its channel is up, so "nobody is here" takes the
// onlooker's whole window to say.
func (r *Roster) Reported() bool {
	if len(r.members) == 0 {
		return false
	}
	for _, e := range r.members {
		if e.stale && !(e.specOnly && !e.playing) {
			return false
		}
	}
	return r.primed
}

// HasSpecOnly reports whether a member's sync must be worked out here.
func (r *Roster) HasSpecOnly() bool {
	for _, e := range r.members {
		if e.specOnly {
			return true
		}
	}
	return false
}

func (e *rosterEntry) position(now time.Time) float64 {
	if !e.playing || e.reportedAt.IsZero() {
		return e.pos
	}
	return e.pos + now.Sub(e.reportedAt).Seconds()
}

// Members lists the room at now: the host first, then by name. Our members'
// sync is their own measurement; a web member's is the spec's 2 s rule
// against the host's latest report.
func (r *Roster) Members(now time.Time) []RosterMember {
	host := ""
	for id, e := range r.members {
		if e.meta.IsHost || host == "" && e.specOnly && id == r.StoredHost {
			host = id
		}
	}
	rows := make([]RosterMember, 0, len(r.members))
	for id, e := range r.members {
		m := RosterMember{
			UserID: id, Username: e.meta.Username, IsHost: id == host,
			CurrentTime: round3(e.position(now)), IsPlaying: e.playing,
			InSync: e.synced && !e.meta.Detached, OffsetMS: e.offsetMS, RTTMS: e.meta.RTTMS,
			Detached: e.meta.Detached, Media: e.meta.Media.Filename, Client: "watchium",
			PlayerState: e.meta.PlayerState, BufferPercent: e.meta.BufferPercent, Missing: e.meta.Missing,
		}
		if e.meta.PlayerState == "gone" {
			m.InSync, m.IsPlaying = false, false
		}
		if e.specOnly {
			m.Client, m.InSync, m.OffsetMS = "web", false, 0
			if h := r.members[host]; h != nil {
				off := e.position(now) - h.position(now)
				m.OffsetMS, m.InSync = round1(off*1000), math.Abs(off) <= SyncTolerance
			}
		}
		if m.IsHost {
			m.InSync, m.OffsetMS = e.meta.PlayerState != "gone", 0
		}
		// Web members send no heartbeats: while in presence, they are here.
		m.Responding = !e.stale || e.specOnly
		if !m.Responding {
			m.InSync = false
		}
		rows = append(rows, m)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].IsHost != rows[j].IsHost {
			return rows[i].IsHost
		}
		if rows[i].Username != rows[j].Username {
			return rows[i].Username < rows[j].Username
		}
		return rows[i].UserID < rows[j].UserID
	})
	return rows
}

// MembersFromPresence is who a channel's presence state names, with the
// spec's member fields, in join order (then by id): the one reading of the
// room's presence format for code outside the room, such as the fault
// benchmark and scripts.
func MembersFromPresence(st map[string][]realtime.Presence) []MemberPayload {
	type joined struct {
		MemberPayload
		at float64
	}
	var ms []joined
	for key, metas := range st {
		if len(metas) == 0 {
			continue
		}
		m, _ := parsePresence(key, metas[len(metas)-1].Data)
		ms = append(ms, joined{MemberPayload{UserID: m.UserID, Username: m.Username, AvatarURL: m.AvatarURL}, m.JoinedAt})
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].at != ms[j].at {
			return ms[i].at < ms[j].at
		}
		return ms[i].UserID < ms[j].UserID
	})
	out := make([]MemberPayload, len(ms))
	for i, m := range ms {
		out[i] = m.MemberPayload
	}
	return out
}
