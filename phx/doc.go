// Package phx is the Phoenix Channels / Supabase Realtime wire format shared
// by the client (package realtime) and the embedded server (package server):
// the frame codec for vsn 1.0.0 (JSON objects) and 2.0.0 (JSON arrays plus
// binary broadcast frames), payload encodings, and the event and topic
// names. It holds no connection state and imports neither side, so the two
// can evolve without one depending on the other.
package phx
