package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/phx"
)

// The checks every broadcast, HTTP broadcast and presence track in a room
// passes: who may send what, and whose name it carries.

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
