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
		m.Payload = BroadcastJSON(m.UserEvent, m.UserPayload, m.UserMeta)
	}
	return m, nil
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
