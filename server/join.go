package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/watchium/watchium-tui/internal/ids"
	"github.com/watchium/watchium-tui/phx"
)

// join handles phx_join: the topic, the token, the private-room gate, the
// config (broadcast, presence, postgres_changes bindings), then the reply and
// the first presence_state.
func (c *conn) join(m phx.Message) {
	if !strings.HasPrefix(m.Topic, "realtime:") {
		c.reply(m, "error", map[string]string{"reason": "unmatched topic"})
		return
	}
	if m.Topic == "realtime:" {
		c.reply(m, "error", map[string]string{"reason": "TopicNameRequired: You must provide a topic name"})
		return
	}
	if old := c.subs[m.Topic]; old != nil {
		// A duplicate join replaces the old one, as in Phoenix.
		c.leave(old)
		c.write(phx.Message{JoinRef: old.joinRef, Ref: old.joinRef, Topic: m.Topic, Event: phx.EventClose, Payload: json.RawMessage("{}")})
	} else if len(c.subs) >= c.s.cfg.MaxChannels {
		c.reply(m, "error", map[string]string{"reason": fmt.Sprintf("ChannelRateLimitReached: Too many channels (at most %d per connection)", c.s.cfg.MaxChannels)})
		return
	}
	var p struct {
		Config struct {
			Broadcast struct {
				Self flexBool `json:"self"`
				Ack  flexBool `json:"ack"`
			} `json:"broadcast"`
			Presence struct {
				Key string `json:"key"`
			} `json:"presence"`
			PostgresChanges []map[string]json.RawMessage `json:"postgres_changes"`
			Private         flexBool                     `json:"private"`
		} `json:"config"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		// Supabase logs and applies defaults; do the same so a sloppy client
		// still joins.
		c.s.log.Warn("server: invalid join payload", "err", err)
	}
	claims, err := c.s.identify(p.AccessToken)
	if err != nil {
		c.reply(m, "error", map[string]string{"reason": joinRefusal(err)})
		return
	}
	if refusal := c.s.joinAllowed(m.Topic, claims); refusal != "" {
		c.reply(m, "error", map[string]string{"reason": refusal})
		return
	}
	cfg := p.Config
	joinRef := m.JoinRef
	if joinRef == "" {
		joinRef = m.Ref
	}
	sub := &subscription{
		c: c, topic: m.Topic, joinRef: joinRef,
		self: bool(cfg.Broadcast.Self), ack: bool(cfg.Broadcast.Ack),
		presenceKey: cfg.Presence.Key, private: bool(cfg.Private),
	}
	if sub.presenceKey == "" {
		sub.presenceKey = ids.New()
	}
	if _, isRoom := roomIDOf(m.Topic); isRoom && claims.UserID() != "" {
		// In a room, a signed-in member's presence is keyed by its own id,
		// so nobody can track under (and so replace) someone else's.
		sub.presenceKey = claims.UserID()
	}
	c.setClaims(sub, claims)
	bindings := make([]map[string]json.RawMessage, 0, len(cfg.PostgresChanges))
	for _, b := range cfg.PostgresChanges {
		echo := make(map[string]json.RawMessage, len(b)+1)
		for k, v := range b {
			echo[k] = v
		}
		id := bindingID(b)
		echo["id"] = json.RawMessage(fmt.Sprint(id))
		sub.pgIDs = append(sub.pgIDs, pgBinding{id: id, spec: b})
		bindings = append(bindings, echo)
	}
	// The room comes back locked, so no concurrent leave can drop it as
	// empty before sub is in it.
	r := c.s.lockRoom(sub.roomKey())
	sub.room = r
	c.subs[m.Topic] = sub
	// Reply and presence_state go out under the room lock so no diff can
	// slip in between and be applied twice by the client.
	r.subs[sub] = struct{}{}
	c.reply(phx.Message{JoinRef: joinRef, Ref: m.Ref, Topic: m.Topic}, "ok", map[string]any{"postgres_changes": bindings})
	// Always send the state, even when the client did not enable presence:
	// realtime-js buffers diffs until it sees one, and it costs one frame.
	c.write(phx.Message{JoinRef: joinRef, Topic: m.Topic, Event: phx.EventPresenceSt, Payload: r.stateJSONLocked()})
	r.mu.Unlock()
	if len(bindings) > 0 {
		if err := c.s.watchChanges(sub); err != nil {
			// As on Supabase: the channel stays joined, the subscription
			// to changes does not exist, and the client is told why.
			c.system(sub, "error", err.Error())
		} else {
			c.system(sub, "ok", "Subscribed to PostgreSQL")
		}
	}
}

// leave removes sub from its room, with presence leaves for everyone else.
func (c *conn) leave(sub *subscription) {
	if c.subs[sub.topic] == sub {
		delete(c.subs, sub.topic)
	}
	if sub.expiry != nil {
		sub.expiry.Stop()
	}
	c.s.unwatchChanges(sub)
	r := sub.room
	r.mu.Lock()
	delete(r.subs, sub)
	diff := r.untrackLocked(sub)
	r.mu.Unlock()
	if diff != nil {
		r.fanout(diff)
	}
	c.s.dropRoomIfEmpty(r)
	c.s.memberLeft(sub.topic, sub.UserID())
}

// flexBool accepts true/false and "true"/"false", as Supabase does.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch strings.Trim(string(data), `"`) {
	case "true":
		*b = true
	default:
		*b = false
	}
	return nil
}
