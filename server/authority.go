package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/server/store"
)

// Room authority: the server, not the members, decides who speaks for whom.
// A spec event's user_id is the sender's verified id; only the room's
// current host may send the events that move everyone's player; and when
// the host leaves, the server elects its successor by the rule the clients
// use and announces it.

// hostOnlyEvents move every follower's player or name the host: only the
// room's current host may send them.
var hostOnlyEvents = map[string]bool{
	"play": true, "pause": true, "seek": true, "new_host": true,
	"sync": true, "sync_reply": true,
}

// speakerField is the payload field that names an event's sender, for the
// events whose sender the server stamps with the verified id. new_host is
// absent on purpose: its user_id names the new host, not the sender.
var speakerField = map[string]string{
	"play": "user_id", "pause": "user_id", "seek": "user_id", "sync": "user_id",
	"heartbeat": "user_id", "member_joined": "user_id", "member_left": "user_id",
	"new_comment": "user_id", "sync_ready": "user_id", "sync_probe": "from",
}

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

// checkBroadcast applies the room's authority to one broadcast from sub
// and returns the message to fan out, or a reason to refuse it.
func (s *Server) checkBroadcast(sub *subscription, m phx.Message) (phx.Message, string) {
	if s.cfg.SupabaseLike {
		return m, ""
	}
	event, inner, ok := broadcastBody(m)
	if !ok {
		return m, ""
	}
	inner, changed, reason := s.checkEvent(sub.topic, sub.UserID(), event, inner)
	if reason == "" && changed {
		m = withBroadcastBody(m, inner)
	}
	return m, reason
}

// checkEvent stamps the sender's verified id (uid) on events that name
// their sender and refuses host-only events from anyone but the host.
// inner is the event's payload (nil when it is not a JSON object).
func (s *Server) checkEvent(topic, uid, event string, inner map[string]json.RawMessage) (out map[string]json.RawMessage, changed bool, reason string) {
	field, stamps := speakerField[event]
	hostOnly := hostOnlyEvents[event]
	if !stamps && !hostOnly {
		return inner, false, ""
	}
	if inner == nil {
		if hostOnly {
			return inner, false, event + " must be a JSON object payload"
		}
		return inner, false, ""
	}
	if stamps {
		claimed := stringField(inner, field)
		if uid == "" {
			if claimed != "" && s.isUser(claimed) {
				return inner, false, fmt.Sprintf("%s names %s, a signed-in user; sign in as yourself", field, claimed)
			}
		} else if nested := nestedField(inner, field); claimed != uid || nested != "" && nested != uid {
			inner, changed = stampField(inner, field, uid), true
		}
	}
	if hostOnly {
		target := ""
		if event == "new_host" {
			target = stringField(inner, "user_id")
			if target == "" {
				target = nestedField(inner, "user_id")
			}
		}
		if ok, why := s.authorizeHostEvent(topic, uid, event, target); !ok {
			return inner, false, why
		}
	}
	return inner, changed, ""
}

// checked reports whether the server looks inside event's payload.
func checked(event string) bool { return hostOnlyEvents[event] || speakerField[event] != "" }

// checkHTTPBroadcast is checkEvent for the HTTP broadcast endpoints.
func (s *Server) checkHTTPBroadcast(uid, topic, event string, payload json.RawMessage) (json.RawMessage, string) {
	var inner map[string]json.RawMessage
	if json.Unmarshal(payload, &inner) != nil {
		inner = nil
	}
	topic = "realtime:" + strings.TrimPrefix(topic, "realtime:")
	if id, ok := roomIDOf(topic); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		allowed, err := s.canEnter(ctx, uid, id)
		cancel()
		if err != nil || !allowed {
			return payload, fmt.Sprintf(msgNotMember, id, id)
		}
	}
	if s.cfg.SupabaseLike {
		return payload, ""
	}
	inner, changed, reason := s.checkEvent(topic, uid, event, inner)
	if reason != "" || !changed {
		return payload, reason
	}
	raw, err := json.Marshal(inner)
	if err != nil {
		return payload, ""
	}
	return raw, ""
}

// broadcastBody is a broadcast's event and (JSON object) payload; inner is
// nil when the payload is not an object or not JSON.
func broadcastBody(m phx.Message) (event string, inner map[string]json.RawMessage, ok bool) {
	if m.Binary {
		if m.UserEnc != phx.EncodingJSON || !checked(m.UserEvent) {
			return m.UserEvent, nil, true
		}
		if json.Unmarshal(m.UserPayload, &inner) != nil {
			inner = nil
		}
		return m.UserEvent, inner, true
	}
	var p struct {
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(m.Payload, &p) != nil {
		return "", nil, false
	}
	if !checked(p.Event) {
		return p.Event, nil, true // nothing to check: spare decoding the payload
	}
	if json.Unmarshal(p.Payload, &inner) != nil {
		inner = nil
	}
	return p.Event, inner, true
}

func withBroadcastBody(m phx.Message, inner map[string]json.RawMessage) phx.Message {
	raw, err := json.Marshal(inner)
	if err != nil {
		return m
	}
	if m.Binary {
		m.UserPayload = raw
		return m
	}
	var outer map[string]json.RawMessage
	if json.Unmarshal(m.Payload, &outer) != nil {
		return m
	}
	outer["payload"] = raw
	if body, err := json.Marshal(outer); err == nil {
		m.Payload = body
	}
	return m
}

func stringField(obj map[string]json.RawMessage, key string) string {
	var v string
	_ = json.Unmarshal(obj[key], &v)
	return v
}

// nestedField reads key from the spec envelope's inner payload.
func nestedField(obj map[string]json.RawMessage, key string) string {
	var inner map[string]json.RawMessage
	if json.Unmarshal(obj["payload"], &inner) != nil {
		return ""
	}
	return stringField(inner, key)
}

// stampField sets key to uid at the top level and inside the envelope's
// payload, wherever the sender put one (a bare payload gets it on top).
func stampField(obj map[string]json.RawMessage, key, uid string) map[string]json.RawMessage {
	val, _ := json.Marshal(uid)
	var inner map[string]json.RawMessage
	if json.Unmarshal(obj["payload"], &inner) == nil && inner != nil {
		if _, has := inner[key]; has {
			inner[key] = val
			if raw, err := json.Marshal(inner); err == nil {
				obj["payload"] = raw
			}
		}
	}
	if _, has := obj[key]; has || inner == nil {
		obj[key] = val
	}
	return obj
}

// checkPresence holds a presence tracked in a room to the same rules as
// events: its user_id is the sender's verified id, and it claims the host
// role (is_host, which clients elect by) only if the server holds that the
// sender hosts.
func (s *Server) checkPresence(sub *subscription, fields map[string]json.RawMessage) {
	if _, ok := roomIDOf(sub.topic); !ok || s.cfg.SupabaseLike {
		return
	}
	uid := sub.UserID()
	if uid != "" {
		fields["user_id"], _ = json.Marshal(uid)
	}
	var claims bool
	if json.Unmarshal(fields["is_host"], &claims) != nil || !claims {
		return
	}
	s.hosts.mu.Lock()
	host := s.hostOfLocked(sub.topic).id
	s.hosts.mu.Unlock()
	if uid != "" && uid == host || uid == "" && !s.isUser(host) {
		return
	}
	fields["is_host"] = json.RawMessage("false")
	delete(fields, "host_since")
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
