package phx

// Protocol versions (the vsn query parameter).
const (
	VSN1 = "1.0.0" // JSON object frames
	VSN2 = "2.0.0" // JSON array frames plus binary broadcast frames
)

// Payload encodings inside binary broadcast frames.
const (
	EncodingBinary = 0
	EncodingJSON   = 1
)

// Phoenix and Supabase Realtime event names.
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

// Topic names every peer knows.
const (
	// TopicPhoenix carries heartbeats and socket-level replies.
	TopicPhoenix = "phoenix"
	// TopicPrefix starts every channel topic: "realtime:" + the channel name.
	TopicPrefix = "realtime:"
)
