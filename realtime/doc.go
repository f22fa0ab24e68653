// Package realtime is a client for the Supabase Realtime protocol (Phoenix
// Channels over WebSocket, vsn 1.0.0 and 2.0.0): broadcast, presence and
// postgres_changes on named channels, with heartbeats, round-trip
// measurement, reconnection and automatic rejoin. The frame codec it speaks
// lives in package phx, shared with the embedded server. It knows nothing of
// rooms or players.
package realtime
