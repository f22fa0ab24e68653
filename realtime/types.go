package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors a caller can test for.
var (
	ErrTimeout      = errors.New("realtime: timed out waiting for the server")
	ErrClosed       = errors.New("realtime: client closed")
	ErrBufferFull   = errors.New("realtime: send buffer full while disconnected")
	ErrNotJoined    = errors.New("realtime: channel is not subscribed")
	ErrUnsubscribed = errors.New("realtime: channel was unsubscribed")
)

// ReplyError is a phx_reply with status "error".
type ReplyError struct {
	Topic    string
	Response json.RawMessage
}

func (e *ReplyError) Error() string {
	var r struct {
		Reason string `json:"reason"`
		Error  string `json:"error"`
	}
	_ = json.Unmarshal(e.Response, &r)
	msg := r.Reason
	if msg == "" {
		msg = r.Error
	}
	if msg == "" {
		msg = string(e.Response)
	}
	return fmt.Sprintf("realtime: server refused on %s: %s", e.Topic, msg)
}

// ConnState is the state of the socket.
type ConnState int

const (
	StateConnecting ConnState = iota
	StateOpen
	StateReconnecting
	StateClosed
)

func (s ConnState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("ConnState(%d)", int(s))
}

// ConnEvent reports a change of the socket's state.
type ConnEvent struct {
	State   ConnState
	Attempt int   // reconnect attempt number while reconnecting
	Err     error // why the socket closed, if it did
}

// Status is a channel subscription status, named as realtime-js names them.
type Status string

const (
	StatusSubscribed   Status = "SUBSCRIBED"
	StatusChannelError Status = "CHANNEL_ERROR"
	StatusTimedOut     Status = "TIMED_OUT"
	StatusClosed       Status = "CLOSED"
)

// BroadcastConfig is the join config's broadcast part.
type BroadcastConfig struct {
	Self bool `json:"self"`
	Ack  bool `json:"ack"`
}

// PresenceConfig is the join config's presence part.
type PresenceConfig struct {
	Key     string `json:"key"`
	Enabled bool   `json:"enabled"`
}

// PostgresChangesFilter selects database changes, as in realtime-js.
type PostgresChangesFilter struct {
	Event  string `json:"event"` // INSERT, UPDATE, DELETE or *
	Schema string `json:"schema"`
	Table  string `json:"table,omitempty"`
	Filter string `json:"filter,omitempty"`
}

// ChannelConfig configures a channel at join.
type ChannelConfig struct {
	Broadcast BroadcastConfig
	Presence  PresenceConfig
	Private   bool
}

// Broadcast is one broadcast message received on a channel.
type Broadcast struct {
	Event   string
	Payload json.RawMessage // JSON payload; nil when the sender sent raw bytes
	Binary  []byte          // raw payload of a binary broadcast
	Meta    json.RawMessage
	At      time.Time // when the frame was read off the socket
}

// Presence is one meta of a presence key: Data is the tracked object merged
// with phx_ref, as the server sent it.
type Presence struct {
	Ref  string
	Data json.RawMessage
}

// PostgresChange is one database change delivered to a binding.
type PostgresChange struct {
	Schema          string                     `json:"schema"`
	Table           string                     `json:"table"`
	CommitTimestamp string                     `json:"commit_timestamp"`
	EventType       string                     `json:"eventType"`
	New             map[string]json.RawMessage `json:"new"`
	Old             map[string]json.RawMessage `json:"old"`
	Errors          json.RawMessage            `json:"errors"`
}

// SystemMessage is a "system" message: subscription results and
// channel-level errors.
type SystemMessage struct {
	Extension string `json:"extension"`
	Status    string `json:"status"`
	Message   string `json:"message"`
	Channel   string `json:"channel"`
}
