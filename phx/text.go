package phx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
