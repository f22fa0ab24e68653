package phx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Binary frame kinds of vsn 2.0.0.
const (
	kindPush          = 0
	kindReply         = 1
	kindBroadcast     = 2
	kindUserPush      = 3 // client → server broadcast
	kindUserBroadcast = 4 // server → client broadcast
)

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
		b, err := SplitUserBroadcast(data)
		if err != nil {
			return m, err
		}
		m.Topic, m.UserEvent, m.UserMeta, m.UserEnc = string(b.Topic), string(b.Event), b.Meta, b.Enc
		r.buf = b.Payload
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
		m.Payload = BroadcastJSON(m.UserEvent, m.UserPayload, m.UserMeta)
	}
	return m, nil
}

// UserBroadcast is a kind-4 frame cut into its parts. The slices alias the
// frame.
type UserBroadcast struct {
	Topic, Event, Meta []byte
	Enc                byte
	Payload            []byte
}

// SplitUserBroadcast cuts a kind-4 frame (server → client broadcast) into
// its parts without copying, and checks only the framing: DecodeBinary adds
// the checks of content. It is there for readers that must stay cheap, such
// as the fan-out bench reading a thousand sockets in one process.
func SplitUserBroadcast(data []byte) (UserBroadcast, error) {
	var b UserBroadcast
	if len(data) < 1 || data[0] != kindUserBroadcast {
		return b, fmt.Errorf("%w: not a kind-4 frame", ErrMalformedFrame)
	}
	r := byteReader{buf: data[1:]}
	lens := r.take(4)
	if lens == nil {
		return b, fmt.Errorf("%w: short kind-4 header", ErrMalformedFrame)
	}
	b.Topic, b.Event, b.Meta = r.take(int(lens[0])), r.take(int(lens[1])), r.take(int(lens[2]))
	if r.bad {
		return b, fmt.Errorf("%w: kind-4 lengths exceed frame", ErrMalformedFrame)
	}
	b.Enc, b.Payload = lens[3], r.buf
	return b, nil
}

// BroadcastJSON builds the text-protocol payload of a broadcast.
func BroadcastJSON(event string, payload, meta []byte) json.RawMessage {
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
		return nil, errors.New("phx: topic, event and meta must each be at most 255 bytes in a binary frame")
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
			return nil, errors.New("phx: refs, topic, event and meta must each be at most 255 bytes in a binary frame")
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
