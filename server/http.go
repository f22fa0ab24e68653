package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// serveBroadcastBatch is Supabase's POST /api/broadcast:
// {"messages":[{"topic","event","payload","private"}]} → 202.
func (s *Server) serveBroadcastBatch(w http.ResponseWriter, r *http.Request) {
	if code, msg := s.authorize(r); code != 0 {
		writeJSONError(w, code, msg)
		return
	}
	claims, ok := s.broadcastIdentity(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxFrameBytes))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", s.cfg.MaxFrameBytes))
		return
	}
	var req struct {
		Messages []struct {
			Topic   string          `json:"topic"`
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Private bool            `json:"private"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, "body must be JSON {\"messages\":[{\"topic\",\"event\",\"payload\"}]}: "+err.Error())
		return
	}
	if len(req.Messages) == 0 {
		writeJSONError(w, http.StatusUnprocessableEntity, "messages is empty")
		return
	}
	for i, m := range req.Messages {
		if m.Topic == "" || m.Event == "" || len(m.Payload) == 0 {
			writeJSONError(w, http.StatusUnprocessableEntity, fmt.Sprintf("messages[%d]: topic, event and payload are required", i))
			return
		}
		if len(m.Payload) > s.cfg.MaxPayloadBytes {
			writeJSONError(w, http.StatusUnprocessableEntity, "Payload size exceeds tenant limit")
			return
		}
	}
	payloads := make([]json.RawMessage, len(req.Messages))
	for i, m := range req.Messages {
		p, refusal := s.checkHTTPBroadcast(claims.UserID(), m.Topic, m.Event, m.Payload)
		if refusal != "" {
			writeJSONError(w, http.StatusForbidden, fmt.Sprintf("messages[%d]: %s", i, refusal))
			return
		}
		payloads[i] = p
	}
	for i, m := range req.Messages {
		s.publish(strings.TrimPrefix(m.Topic, "realtime:"), m.Event, payloads[i], m.Private)
	}
	w.WriteHeader(http.StatusAccepted)
}

// serveBroadcastOne is POST /api/broadcast/{topic}/events/{event} with the
// payload as the body.
func (s *Server) serveBroadcastOne(w http.ResponseWriter, r *http.Request) {
	if code, msg := s.authorize(r); code != 0 {
		writeJSONError(w, code, msg)
		return
	}
	claims, ok := s.broadcastIdentity(w, r)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeJSONError(w, http.StatusUnsupportedMediaType, "only application/json payloads are supported here")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxPayloadBytes)))
	if err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, "Payload size exceeds tenant limit")
		return
	}
	if !json.Valid(body) {
		writeJSONError(w, http.StatusUnprocessableEntity, "payload must be JSON")
		return
	}
	body, refusal := s.checkHTTPBroadcast(claims.UserID(), r.PathValue("topic"), r.PathValue("event"), body)
	if refusal != "" {
		writeJSONError(w, http.StatusForbidden, refusal)
		return
	}
	s.publish(strings.TrimPrefix(r.PathValue("topic"), "realtime:"), r.PathValue("event"), body, r.URL.Query().Get("private") == "true")
	w.WriteHeader(http.StatusAccepted)
}
