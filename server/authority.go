package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/watchium/watchium-tui/server/store"
)

// Room authority: the server, not the members, decides who speaks for whom.
// A spec event's user_id is the sender's verified id; only the room's
// current host may send the events that move everyone's player; and when
// the host leaves, the server elects its successor by the rule the clients
// use and announces it. This file keeps who hosts; checks.go holds the
// checks each message passes.

// defaultHostGrace is how long a vanished host is waited for before the
// server elects a successor; the clients wait the same (room.Config.HostGrace),
// so a host whose connection blips keeps the role.
const defaultHostGrace = 2 * time.Second

// hostState is what the server knows of one topic's host.
type hostState struct {
	id     string // the current host's user id; "" when nobody hosts
	name   string
	loaded bool // id was read from the store (or set) once
	// vacated is the host that left while grace runs: until the server
	// elects, only the member it would elect may take the role.
	vacated string
	timer   *time.Timer
	gen     int // which timer is current
}

type hosts struct {
	mu sync.Mutex
	by map[string]*hostState // by topic ("realtime:room:movie")
}

// roomIDOf is the stored room of a topic ("realtime:room:movie" → "movie").
func roomIDOf(topic string) (string, bool) {
	id, ok := strings.CutPrefix(topic, "realtime:room:")
	return id, ok && id != ""
}

// hostOf returns the topic's host state, loading the stored host on first
// use. Called with h.mu held.
func (s *Server) hostOfLocked(topic string) *hostState {
	hs := s.hosts.by[topic]
	if hs == nil {
		hs = &hostState{}
		s.hosts.by[topic] = hs
	}
	if !hs.loaded {
		hs.loaded = true
		if id, ok := roomIDOf(topic); ok && s.cfg.Store != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rows, err := s.cfg.Store.Select(ctx, "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{id}}}})
			cancel()
			if err == nil && len(rows) == 1 {
				hs.id, _ = rows[0]["host_user_id"].(string)
			}
		}
	}
	return hs
}

// CurrentHost is the host the server holds for a room ("" for none).
func (s *Server) CurrentHost(roomID string) string {
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	return s.hostOfLocked("realtime:room:" + roomID).id
}

// channelsOf are the room objects of a topic's public and private channels.
func (s *Server) channelsOf(topic string) []*room {
	var out []*room
	for _, key := range []string{topic, "private|" + topic} {
		if r := s.room(key, false); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// online reports whether uid has a verified subscription on topic.
func (s *Server) online(topic, uid string) bool {
	if uid == "" {
		return false
	}
	for _, r := range s.channelsOf(topic) {
		r.mu.Lock()
		for sub := range r.subs {
			if sub.UserID() == uid {
				r.mu.Unlock()
				return true
			}
		}
		r.mu.Unlock()
	}
	return false
}

// electedMeta is what the election reads of a member's presence.
type electedMeta struct {
	JoinedAt *float64 `json:"joined_at"`
	Username string   `json:"username"`
	Media    struct {
		Filename string `json:"filename"`
	} `json:"media"`
}

// successor is the member the clients elect (room.successor): among signed-in
// members online, those with a player first, the earliest joined (ties by
// id). Spec-only members (no joined_at in their presence) are never elected:
// their client cannot know it was.
func (s *Server) successor(topic, exclude string) (id, name string) {
	bestRank, at := 2, math.Inf(1)
	for _, r := range s.channelsOf(topic) {
		r.mu.Lock()
		for _, metas := range r.presence {
			for _, pm := range metas {
				uid := pm.owner.UserID()
				if uid == "" || uid == exclude {
					continue
				}
				var m electedMeta
				if json.Unmarshal(pm.obj, &m) != nil || m.JoinedAt == nil {
					continue
				}
				rank := 1
				if m.Media.Filename != "" {
					rank = 0
				}
				if rank < bestRank || rank == bestRank && (*m.JoinedAt < at || *m.JoinedAt == at && uid < id) {
					id, name, bestRank, at = uid, m.Username, rank, *m.JoinedAt
				}
			}
		}
		r.mu.Unlock()
	}
	return id, name
}

// authorizeHostEvent decides whether uid may send event (a host-only one) on
// topic; target is the user a new_host names. It records a claim the room
// accepts. reason explains a refusal.
func (s *Server) authorizeHostEvent(topic, uid, event, target string) (ok bool, reason string) {
	s.hosts.mu.Lock()
	hs := s.hostOfLocked(topic)
	host := hs.id
	s.hosts.mu.Unlock()
	hostOnline := host != "" && (s.online(topic, host) || s.present(topic, host))
	if uid == "" {
		// The anon role (an open server, a spec web client) cannot speak
		// over a signed-in host; a host that is itself anonymous (a web
		// host, a client of a server without sign-in) cannot be told
		// apart from its forgers, as before identities.
		if hostOnline && s.isUser(host) {
			return false, fmt.Sprintf("only the room's host (%s) may send %s; sign in and be handed the role", host, event)
		}
		if event == "new_host" && target != "" && s.isUser(target) {
			return false, "new_host naming a signed-in user must come from the room's host"
		}
		return true, ""
	}
	if event == "new_host" && target != "" && target == host && hostOnline {
		// The echo of a hand-over the database recorded first (hand_over):
		// it names who hosts already and changes nothing.
		return true, ""
	}
	if hostOnline && uid != host {
		return false, fmt.Sprintf("only the room's host (%s) may send %s", host, event)
	}
	if uid == host {
		if event == "new_host" && target != "" && target != uid {
			// A hand-over (/host NAME): the named member hosts from now on.
			s.setHost(topic, target, "", false)
		}
		return true, ""
	}
	// Nobody online hosts: a claim. While the server waits for a vanished
	// host, only the member it would elect may take over.
	if event == "new_host" && target != uid {
		return false, "new_host must name yourself when nobody hosts"
	}
	s.hosts.mu.Lock()
	vacated := hs.vacated
	s.hosts.mu.Unlock()
	if vacated != "" {
		if next, _ := s.successor(topic, vacated); next != uid {
			return false, "the host has just left; the server elects its successor"
		}
	}
	s.setHost(topic, uid, "", false)
	return true, ""
}

// setHost records id as topic's host, in memory and in the stored room,
// and tells the room when announce is set.
func (s *Server) setHost(topic, id, name string, announce bool) {
	s.hosts.mu.Lock()
	hs := s.hostOfLocked(topic)
	changed := hs.id != id
	hs.id, hs.name, hs.vacated = id, name, ""
	if hs.timer != nil {
		hs.timer.Stop()
		hs.timer = nil
	}
	s.hosts.mu.Unlock()
	roomID, isRoom := roomIDOf(topic)
	if changed && isRoom && s.cfg.Store != nil && id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, changes, err := s.cfg.Store.Insert(ctx, "rooms", []store.Row{{"room_id": roomID, "host_user_id": id}}, true)
		cancel()
		if err != nil {
			s.log.Warn("server: storing the room's host", "room", roomID, "err", err)
		}
		s.publishChanges(changes)
	}
	if announce && id != "" {
		s.publishRoom(strings.TrimPrefix(topic, "realtime:"), "new_host", specEvent("new_host", roomID, map[string]any{"user_id": id, "username": name}))
	}
}

// noteHost records id as topic's host in memory only (the caller stored it).
func (s *Server) noteHost(topic, id, name string) {
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	hs := s.hostOfLocked(topic)
	hs.id, hs.name, hs.vacated = id, name, ""
	if hs.timer != nil {
		hs.timer.Stop()
		hs.timer = nil
	}
}

// publishRoom sends a server event to both the public and the private
// channel of a topic (members of a private room may join either).
func (s *Server) publishRoom(topic, event string, payload json.RawMessage) {
	s.publish(topic, event, payload, false)
	s.publish(topic, event, payload, true)
}

// memberLeft runs after uid's subscription left topic: if it hosted and has
// no other channel there, the server waits grace for it, then elects.
func (s *Server) memberLeft(topic, uid string) {
	defer s.forgetIfIdle(topic)
	if uid == "" || s.online(topic, uid) {
		return
	}
	s.hosts.mu.Lock()
	hs := s.hosts.by[topic]
	if hs == nil || hs.id != uid {
		s.hosts.mu.Unlock()
		return
	}
	hs.vacated = uid
	if hs.timer != nil {
		hs.timer.Stop()
	}
	grace := s.cfg.HostGrace
	if grace <= 0 {
		grace = defaultHostGrace
	}
	hs.gen++
	gen := hs.gen
	hs.timer = time.AfterFunc(grace, func() { s.electAfterGrace(topic, uid, gen) })
	s.hosts.mu.Unlock()
}

func (s *Server) electAfterGrace(topic, gone string, gen int) {
	s.hosts.mu.Lock()
	hs := s.hosts.by[topic]
	if hs == nil || hs.timer == nil || hs.gen != gen || hs.id != gone {
		s.hosts.mu.Unlock()
		return // came back, handed over, or someone claimed
	}
	hs.timer = nil
	s.hosts.mu.Unlock()
	if s.online(topic, gone) {
		s.hosts.mu.Lock()
		hs.vacated = ""
		s.hosts.mu.Unlock()
		return
	}
	next, name := s.successor(topic, gone)
	if next == "" || s.cfg.SupabaseLike {
		// Nobody can host (or, like Supabase, the server elects nobody):
		// the first member to claim will.
		s.hosts.mu.Lock()
		hs.vacated = ""
		s.hosts.mu.Unlock()
		s.forgetIfIdle(topic)
		return
	}
	s.setHost(topic, next, name, true)
}

// isUser reports whether id is a user of this server's auth store: an
// anonymous caller may not use such an id as its own.
func (s *Server) isUser(id string) bool {
	if s.cfg.Store == nil || s.cfg.Auth == nil || id == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.cfg.Store.User(ctx, id)
	return err == nil
}

// forgetIfIdle drops what the server holds of topic's host once nobody is
// on it and no election is pending, so idle rooms cost nothing; the stored
// room keeps the host for next time.
func (s *Server) forgetIfIdle(topic string) {
	if len(s.channelsOf(topic)) > 0 {
		return
	}
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	if hs := s.hosts.by[topic]; hs != nil && hs.timer == nil {
		delete(s.hosts.by, topic)
	}
}

// hostsHeld is how many topics the server holds a host for (tests).
func (s *Server) hostsHeld() int {
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	return len(s.hosts.by)
}
