// Package realtime is a client for the Supabase Realtime protocol (Phoenix
// Channels over WebSocket, vsn 1.0.0 and 2.0.0): broadcast, presence and
// postgres_changes on named channels, with heartbeats, round-trip
// measurement, reconnection and automatic rejoin. It also holds the frame
// codec that the embedded server shares. It knows nothing of rooms or
// players.
package realtime
