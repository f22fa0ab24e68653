package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

type pgBinding struct {
	id      uint32
	spec    map[string]json.RawMessage
	event   string // INSERT, UPDATE, DELETE or *
	schema  string
	table   string // "" for every table
	filters []store.Filter
}

// subscription is one connection's join of one topic.
type subscription struct {
	c           *conn
	room        *room
	topic       string
	joinRef     string
	self, ack   bool
	private     bool
	presenceKey string
	pgIDs       []pgBinding
	// claims is the verified identity of the channel's access token (nil
	// for the anon role); expiry closes the channel when it runs out.
	claims *auth.Claims
	expiry *time.Timer
	uid    atomic.Value // string: claims' user id, for readers on other goroutines
}

// roomKey separates public and private channels of the same name, as
// Supabase does.
func (s *subscription) roomKey() string {
	if s.private {
		return "private|" + s.topic
	}
	return s.topic
}

type presenceMeta struct {
	ref   string
	owner *subscription
	data  json.RawMessage // tracked object merged with phx_ref
	obj   json.RawMessage // tracked object as sent, to detect no-op tracks
}

// room is everyone on one topic.
type room struct {
	topic    string
	mu       sync.Mutex
	subs     map[*subscription]struct{}
	presence map[string][]*presenceMeta

	rateMu sync.Mutex
	tokens float64
	last   time.Time
}

// allow spends one event from the room's token bucket (rate events per
// second, burst of as many).
func (r *room) allow(rate int) bool {
	r.rateMu.Lock()
	defer r.rateMu.Unlock()
	now := time.Now()
	if r.last.IsZero() {
		r.tokens = float64(rate)
	} else {
		r.tokens = min(float64(rate), r.tokens+now.Sub(r.last).Seconds()*float64(rate))
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// outgoing is one message to fan out, encoded at most once per wire format.
type outgoing struct {
	msg     phx.Message
	once    [3]sync.Once
	enc     [3]frame
	ok      [3]bool
	exclude *subscription
}

const (
	fmtV1 = iota
	fmtV2Text
	fmtV2Binary
)

func (o *outgoing) frameFor(vsn string) (frame, bool) {
	idx := fmtV2Text
	switch {
	case vsn == phx.VSN1:
		idx = fmtV1
	case o.msg.Binary:
		idx = fmtV2Binary
	}
	o.once[idx].Do(func() {
		m := o.msg
		switch idx {
		case fmtV1:
			if m.Binary && m.UserEnc != phx.EncodingJSON {
				return // raw bytes cannot travel as v1 JSON; Supabase drops them too
			}
			m.Binary = false
			data, err := phx.EncodeText(phx.VSN1, m)
			o.enc[idx], o.ok[idx] = frame{data: data}, err == nil
		case fmtV2Text:
			data, err := phx.EncodeText(phx.VSN2, m)
			o.enc[idx], o.ok[idx] = frame{data: data}, err == nil
		case fmtV2Binary:
			data, err := phx.EncodeUserBroadcast(m.Topic, m.UserEvent, nil, m.UserEnc, m.UserPayload)
			o.enc[idx], o.ok[idx] = frame{data: data, binary: true}, err == nil
		}
	})
	return o.enc[idx], o.ok[idx]
}

// fanout sends o to every subscriber of the room but o.exclude.
func (r *room) fanout(o *outgoing) {
	r.mu.Lock()
	subs := make([]*subscription, 0, len(r.subs))
	for s := range r.subs {
		if s != o.exclude {
			subs = append(subs, s)
		}
	}
	r.mu.Unlock()
	for _, s := range subs {
		if f, ok := o.frameFor(s.c.vsn); ok {
			s.c.enqueue(f)
		}
	}
}

func (c *conn) broadcast(sub *subscription, m phx.Message) {
	var size int
	if m.Binary {
		size = len(m.UserPayload)
	} else {
		var p struct {
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Event == "" {
			c.reply(m, "error", map[string]string{"reason": "broadcast payload must be {\"type\":\"broadcast\",\"event\":…,\"payload\":…}"})
			return
		}
		size = len(p.Payload)
	}
	if size > c.s.cfg.MaxPayloadBytes {
		if sub.ack {
			c.reply(m, "error", map[string]string{"error": "payload_size_exceeded", "reason": fmt.Sprintf("payload of %d bytes exceeds the limit of %d", size, c.s.cfg.MaxPayloadBytes)})
		}
		return
	}
	m, refusal := c.s.checkBroadcast(sub, m)
	if refusal != "" {
		// Not delivered; the sender hears why, whether it asked for acks
		// or not (realtime-js hands it to the push's error callback).
		c.reply(m, "error", map[string]string{"reason": refusal})
		return
	}
	out := &outgoing{msg: phx.Message{
		Topic: m.Topic, Event: phx.EventBroadcast, Payload: m.Payload,
		Binary: m.Binary, UserEvent: m.UserEvent, UserEnc: m.UserEnc, UserPayload: m.UserPayload,
	}}
	if !sub.self {
		out.exclude = sub
	}
	// Fan out, then ack, as Supabase does: an ack means every member's
	// queue already holds the message.
	sub.room.fanout(out)
	if sub.ack {
		c.reply(m, "ok", struct{}{})
	}
}

// publish sends a broadcast from outside any connection (HTTP endpoint).
func (s *Server) publish(topic, event string, payload json.RawMessage, private bool) {
	key := "realtime:" + topic
	if private {
		key = "private|" + key
	}
	r := s.room(key, false)
	if r == nil {
		return
	}
	ev, _ := json.Marshal(event)
	body := []byte(`{"type":"broadcast","event":` + string(ev) + `,"payload":` + string(payload) + `}`)
	r.fanout(&outgoing{msg: phx.Message{Topic: "realtime:" + topic, Event: phx.EventBroadcast, Payload: body}})
}

func (c *conn) presence(sub *subscription, m phx.Message) {
	var p struct {
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		c.reply(m, "error", map[string]string{"reason": "presence payload must be {\"type\":\"presence\",\"event\":\"track\"|\"untrack\",…}"})
		return
	}
	r := sub.room
	var diff *outgoing
	switch p.Event {
	case "track":
		obj := bytes.TrimSpace(p.Payload)
		var fields map[string]json.RawMessage
		if len(obj) == 0 || obj[0] != '{' || json.Unmarshal(obj, &fields) != nil {
			c.reply(m, "error", map[string]string{"reason": "Presence track payload must be a map"})
			return
		}
		if len(obj) > c.s.cfg.MaxPayloadBytes {
			c.system(sub, "error", "Track message size exceeded")
			return
		}
		// Take the ref before the room lock: nextPhxRef locks the server,
		// and dropRoomIfEmpty locks server then room.
		c.s.checkPresence(sub, fields)
		ref := c.s.nextPhxRef()
		r.mu.Lock()
		diff = r.trackLocked(sub, obj, fields, ref)
		r.mu.Unlock()
	case "untrack":
		r.mu.Lock()
		diff = r.untrackLocked(sub)
		r.mu.Unlock()
	default:
		c.reply(m, "error", map[string]string{"reason": "unknown presence event " + p.Event})
		return
	}
	c.reply(m, "ok", struct{}{})
	if diff != nil {
		r.fanout(diff)
	}
}

// trackLocked sets sub's one meta under its key; an identical payload is a
// no-op, a changed one replaces the meta (new phx_ref, phx_ref_prev).
func (r *room) trackLocked(sub *subscription, obj json.RawMessage, fields map[string]json.RawMessage, ref string) *outgoing {
	key := sub.presenceKey
	var prev *presenceMeta
	for _, pm := range r.presence[key] {
		if pm.owner == sub {
			prev = pm
		}
	}
	if prev != nil && bytes.Equal(prev.obj, obj) {
		return nil
	}
	fields["phx_ref"], _ = json.Marshal(ref)
	if prev != nil {
		fields["phx_ref_prev"], _ = json.Marshal(prev.ref)
	}
	data, _ := json.Marshal(fields)
	pm := &presenceMeta{ref: ref, owner: sub, data: data, obj: append(json.RawMessage(nil), obj...)}
	leaves := map[string][]json.RawMessage{}
	if prev != nil {
		r.removeMetaLocked(key, prev)
		leaves[key] = []json.RawMessage{prev.data}
	}
	r.presence[key] = append(r.presence[key], pm)
	return r.diffLocked(map[string][]json.RawMessage{key: {data}}, leaves)
}

func (r *room) untrackLocked(sub *subscription) *outgoing {
	key := sub.presenceKey
	var gone []json.RawMessage
	for _, pm := range r.presence[key] {
		if pm.owner == sub {
			gone = append(gone, pm.data)
			r.removeMetaLocked(key, pm)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return r.diffLocked(nil, map[string][]json.RawMessage{key: gone})
}

func (r *room) removeMetaLocked(key string, pm *presenceMeta) {
	metas := r.presence[key]
	for i, x := range metas {
		if x == pm {
			metas = append(metas[:i:i], metas[i+1:]...)
			break
		}
	}
	if len(metas) == 0 {
		delete(r.presence, key)
	} else {
		r.presence[key] = metas
	}
}

type metasJSON struct {
	Metas []json.RawMessage `json:"metas"`
}

func (r *room) diffLocked(joins, leaves map[string][]json.RawMessage) *outgoing {
	w := struct {
		Joins  map[string]metasJSON `json:"joins"`
		Leaves map[string]metasJSON `json:"leaves"`
	}{map[string]metasJSON{}, map[string]metasJSON{}}
	for k, v := range joins {
		w.Joins[k] = metasJSON{v}
	}
	for k, v := range leaves {
		w.Leaves[k] = metasJSON{v}
	}
	raw, _ := json.Marshal(w)
	return &outgoing{msg: phx.Message{Topic: r.topicName(), Event: phx.EventPresenceDif, Payload: raw}}
}

func (r *room) topicName() string {
	t, _ := strings.CutPrefix(r.topic, "private|")
	return t
}

func (r *room) stateJSONLocked() json.RawMessage {
	keys := make([]string, 0, len(r.presence))
	for k := range r.presence {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	st := make(map[string]metasJSON, len(keys))
	for _, k := range keys {
		var ms []json.RawMessage
		for _, pm := range r.presence[k] {
			ms = append(ms, pm.data)
		}
		st[k] = metasJSON{ms}
	}
	raw, _ := json.Marshal(st)
	return raw
}

// bindingID is stable for identical binding params, like Supabase's
// phash2, and fits in 27 bits like it.
func bindingID(b map[string]json.RawMessage) uint32 {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := fnv.New32a()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(b[k])
		h.Write([]byte{0})
	}
	return h.Sum32() & (1<<27 - 1)
}

// phxRef makes presence refs unique across restarts of the server, so a
// client never confuses a new meta with one from before a restart.
func phxRef(n uint64) string {
	var b [16]byte
	_, _ = rand.Read(b[:8])
	binary.BigEndian.PutUint64(b[8:], n)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// present reports whether key is tracked in topic's presence.
func (s *Server) present(topic, key string) bool {
	r := s.room(topic, false)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.presence[key]) > 0
}
