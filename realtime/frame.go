package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Protocol versions (the vsn query parameter).
const (
	VSN1 = "1.0.0" // JSON object frames
	VSN2 = "2.0.0" // JSON array frames plus binary broadcast frames
)

// Binary frame kinds of vsn 2.0.0.
const (
	kindPush          = 0
	kindReply         = 1
	kindBroadcast     = 2
	kindUserPush      = 3 // client → server broadcast
	kindUserBroadcast = 4 // server → client broadcast
)

// Payload encodings inside binary broadcast frames.
const (
	EncodingBinary = 0
	EncodingJSON   = 1
)

// Phoenix event names.
const (
	EventJoin        = "phx_join"
	EventLeave       = "phx_leave"
	EventReply       = "phx_reply"
	EventError       = "phx_error"
	EventClose       = "phx_close"
	EventHeartbeat   = "heartbeat"
	EventBroadcast   = "broadcast"
	EventPresence    = "presence"
	EventPresenceSt  = "presence_state"
	EventPresenceDif = "presence_diff"
	EventPGChanges   = "postgres_changes"
	EventSystem      = "system"
	EventAccessToken = "access_token"
)

// ErrMalformedFrame wraps every decoding failure, so callers can tell bad
// input from a broken connection.
var ErrMalformedFrame = errors.New("malformed frame")

// Message is one Phoenix channel message. Empty JoinRef or Ref stand for
// null on the wire.
//
// A broadcast that travelled as a binary frame keeps its parts in User*
// fields so a server can forward it without re-encoding the payload, and so
// raw binary payloads survive; Payload then holds the JSON form
// {"type":"broadcast","event":…,"payload":…} when the payload is JSON.
type Message struct {
	JoinRef string
	Ref     string
	Topic   string
	Event   string
	Payload json.RawMessage

	Binary      bool   // arrived as (or should leave as) a binary broadcast frame
	UserEvent   string // broadcast event name inside a binary frame
	UserMeta    []byte // JSON or empty
	UserEnc     byte   // EncodingJSON or EncodingBinary
	UserPayload []byte
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// EncodeText encodes m as a text frame for the given protocol version.
func EncodeText(vsn string, m Message) ([]byte, error) {
	payload := m.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	if vsn == VSN1 {
		return json.Marshal(struct {
			Topic   string          `json:"topic"`
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Ref     any             `json:"ref"`
			JoinRef any             `json:"join_ref,omitempty"`
		}{m.Topic, m.Event, payload, nullable(m.Ref), nullable(m.JoinRef)})
	}
	return json.Marshal([]any{nullable(m.JoinRef), nullable(m.Ref), m.Topic, m.Event, payload})
}

// DecodeText decodes a text frame of either version. Version 2 frames are
// arrays, version 1 frames objects; both are accepted, so one decoder serves
// a socket whatever it negotiated.
func DecodeText(data []byte) (Message, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Message{}, fmt.Errorf("%w: empty", ErrMalformedFrame)
	}
	var m Message
	switch data[0] {
	case '[':
		var parts []json.RawMessage
		if err := json.Unmarshal(data, &parts); err != nil {
			return m, fmt.Errorf("%w: %v", ErrMalformedFrame, err)
		}
		if len(parts) < 5 {
			return m, fmt.Errorf("%w: array of %d elements, want 5", ErrMalformedFrame, len(parts))
		}
		var err error
		if m.JoinRef, err = refString(parts[0]); err != nil {
			return m, err
		}
		if m.Ref, err = refString(parts[1]); err != nil {
			return m, err
		}
		if err := json.Unmarshal(parts[2], &m.Topic); err != nil {
			return m, fmt.Errorf("%w: topic: %v", ErrMalformedFrame, err)
		}
		if err := json.Unmarshal(parts[3], &m.Event); err != nil {
			return m, fmt.Errorf("%w: event: %v", ErrMalformedFrame, err)
		}
		m.Payload = parts[4]
	case '{':
		var obj struct {
			Topic   *string         `json:"topic"`
			Event   *string         `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Ref     json.RawMessage `json:"ref"`
			JoinRef json.RawMessage `json:"join_ref"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return m, fmt.Errorf("%w: %v", ErrMalformedFrame, err)
		}
		if obj.Topic == nil || obj.Event == nil {
			return m, fmt.Errorf("%w: object without topic or event", ErrMalformedFrame)
		}
		var err error
		if m.Ref, err = refString(obj.Ref); err != nil {
			return m, err
		}
		if m.JoinRef, err = refString(obj.JoinRef); err != nil {
			return m, err
		}
		m.Topic, m.Event, m.Payload = *obj.Topic, *obj.Event, obj.Payload
	default:
		return m, fmt.Errorf("%w: neither array nor object", ErrMalformedFrame)
	}
	if m.Topic == "" || m.Event == "" {
		return m, fmt.Errorf("%w: empty topic or event", ErrMalformedFrame)
	}
	if len(m.Payload) == 0 || string(m.Payload) == "null" {
		m.Payload = json.RawMessage("{}")
	}
	return m, nil
}

// refString accepts a JSON string, number or null as a ref; Phoenix treats
// refs as opaque, and some clients send numbers.
func refString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: ref: %v", ErrMalformedFrame, err)
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("%w: ref: %v", ErrMalformedFrame, err)
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("%w: ref must be a string", ErrMalformedFrame)
}

// DecodeBinary decodes a binary frame of kind 3 (a client's broadcast push)
// or kind 4 (a server's broadcast). Other kinds are refused: no peer we
// serve sends them.
func DecodeBinary(data []byte) (Message, error) {
	var m Message
	if len(data) < 1 {
		return m, fmt.Errorf("%w: empty binary frame", ErrMalformedFrame)
	}
	r := byteReader{buf: data[1:]}
	switch data[0] {
	case kindUserPush:
		lens := r.take(6)
		if lens == nil {
			return m, fmt.Errorf("%w: short kind-3 header", ErrMalformedFrame)
		}
		jr, ref, topic, ev, meta := r.take(int(lens[0])), r.take(int(lens[1])), r.take(int(lens[2])), r.take(int(lens[3])), r.take(int(lens[4]))
		if r.bad {
			return m, fmt.Errorf("%w: kind-3 lengths exceed frame", ErrMalformedFrame)
		}
		m.JoinRef, m.Ref, m.Topic, m.UserEvent, m.UserMeta, m.UserEnc = string(jr), string(ref), string(topic), string(ev), meta, lens[5]
	case kindUserBroadcast:
		lens := r.take(4)
		if lens == nil {
			return m, fmt.Errorf("%w: short kind-4 header", ErrMalformedFrame)
		}
		topic, ev, meta := r.take(int(lens[0])), r.take(int(lens[1])), r.take(int(lens[2]))
		if r.bad {
			return m, fmt.Errorf("%w: kind-4 lengths exceed frame", ErrMalformedFrame)
		}
		m.Topic, m.UserEvent, m.UserMeta, m.UserEnc = string(topic), string(ev), meta, lens[3]
	default:
		return m, fmt.Errorf("%w: unsupported binary kind %d", ErrMalformedFrame, data[0])
	}
	if m.UserEnc != EncodingJSON && m.UserEnc != EncodingBinary {
		return m, fmt.Errorf("%w: unknown payload encoding %d", ErrMalformedFrame, m.UserEnc)
	}
	if m.Topic == "" || m.UserEvent == "" {
		return m, fmt.Errorf("%w: empty topic or event", ErrMalformedFrame)
	}
	if len(m.UserMeta) > 0 && !json.Valid(m.UserMeta) {
		return m, fmt.Errorf("%w: meta is not JSON", ErrMalformedFrame)
	}
	m.UserPayload = r.buf
	m.Event = EventBroadcast
	m.Binary = true
	if m.UserEnc == EncodingJSON {
		if !json.Valid(m.UserPayload) {
			return m, fmt.Errorf("%w: payload is not JSON", ErrMalformedFrame)
		}
		m.Payload = broadcastJSON(m.UserEvent, m.UserPayload, m.UserMeta)
	}
	return m, nil
}

// broadcastJSON builds the text-protocol payload of a broadcast.
func broadcastJSON(event string, payload, meta []byte) json.RawMessage {
	var b bytes.Buffer
	ev, _ := json.Marshal(event)
	b.WriteString(`{"type":"broadcast","event":`)
	b.Write(ev)
	b.WriteString(`,"payload":`)
	b.Write(payload)
	if len(meta) > 0 {
		b.WriteString(`,"meta":`)
		b.Write(meta)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// EncodeUserBroadcast encodes a kind-4 frame (server → client).
func EncodeUserBroadcast(topic, event string, meta []byte, enc byte, payload []byte) ([]byte, error) {
	if len(topic) > 255 || len(event) > 255 || len(meta) > 255 {
		return nil, errors.New("realtime: topic, event and meta must each be at most 255 bytes in a binary frame")
	}
	out := make([]byte, 0, 5+len(topic)+len(event)+len(meta)+len(payload))
	out = append(out, kindUserBroadcast, byte(len(topic)), byte(len(event)), byte(len(meta)), enc)
	out = append(out, topic...)
	out = append(out, event...)
	out = append(out, meta...)
	return append(out, payload...), nil
}

// EncodeUserPush encodes a kind-3 frame (client → server), as realtime-js
// sends every broadcast on vsn 2.0.0.
func EncodeUserPush(joinRef, ref, topic, event string, meta []byte, enc byte, payload []byte) ([]byte, error) {
	for _, s := range []string{joinRef, ref, topic, event, string(meta)} {
		if len(s) > 255 {
			return nil, errors.New("realtime: refs, topic, event and meta must each be at most 255 bytes in a binary frame")
		}
	}
	out := make([]byte, 0, 7+len(joinRef)+len(ref)+len(topic)+len(event)+len(meta)+len(payload))
	out = append(out, kindUserPush, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(event)), byte(len(meta)), enc)
	out = append(out, joinRef...)
	out = append(out, ref...)
	out = append(out, topic...)
	out = append(out, event...)
	out = append(out, meta...)
	return append(out, payload...), nil
}

type byteReader struct {
	buf []byte
	bad bool
}

func (r *byteReader) take(n int) []byte {
	if r.bad || n > len(r.buf) {
		r.bad = true
		return nil
	}
	out := r.buf[:n:n]
	r.buf = r.buf[n:]
	return out
}
