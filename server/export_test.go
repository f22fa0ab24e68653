package server

import "github.com/watchium/watchium-tui/phx"

// HostsHeld is how many topics the server holds a host for.
func (s *Server) HostsHeld() int { return s.hostsHeld() }

// CheckBroadcastForBench runs the room authority's check of one broadcast
// payload from uid on topic, as conn.broadcast does.
func (s *Server) CheckBroadcastForBench(topic, uid string, payload []byte) string {
	sub := &subscription{topic: topic}
	sub.uid.Store(uid)
	_, refusal := s.checkBroadcast(sub, phx.Message{Topic: topic, Event: phx.EventBroadcast, Payload: payload})
	return refusal
}
