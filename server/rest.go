package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/server/store"
)

// restError answers the way PostgREST does, so clients written for
// Supabase read our errors unchanged.
func restError(w http.ResponseWriter, err error) {
	var se *store.Error
	if !errors.As(err, &se) {
		se = &store.Error{Status: 500, Code: "XX000", Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(se.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": se.Code, "message": se.Message, "details": nil, "hint": nil})
}

// reserved query parameters of PostgREST that are not filters.
var reserved = map[string]bool{"select": true, "order": true, "limit": true, "offset": true, "on_conflict": true, "columns": true, "apikey": true}

func parseQuery(r *http.Request) (store.Query, error) {
	var q store.Query
	vals := r.URL.Query()
	for key, vs := range vals {
		if reserved[key] {
			continue
		}
		for _, v := range vs {
			f, err := store.ParseParam(key, v)
			if err != nil {
				return q, err
			}
			q.Filters = append(q.Filters, f)
		}
	}
	if sel := vals.Get("select"); sel != "" && sel != "*" {
		return q, &store.Error{Status: 400, Code: "PGRST100", Message: "only select=* is supported here"}
	}
	if o := vals.Get("order"); o != "" {
		for _, term := range strings.Split(o, ",") {
			parts := strings.Split(term, ".")
			ord := store.Order{Column: parts[0]}
			for _, p := range parts[1:] {
				switch p {
				case "desc":
					ord.Desc = true
				case "asc", "nullsfirst", "nullslast":
				default:
					return q, &store.Error{Status: 400, Code: "PGRST100", Message: "failed to parse order (" + o + ")"}
				}
			}
			q.Order = append(q.Order, ord)
		}
	}
	if l := vals.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return q, &store.Error{Status: 400, Code: "PGRST100", Message: "limit must be a non-negative integer"}
		}
		q.Limit = n
	}
	return q, nil
}

func readRows(w http.ResponseWriter, r *http.Request, limit int64) ([]store.Row, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, &store.Error{Status: 413, Code: "PGRST413", Message: fmt.Sprintf("request body over %d bytes", limit)}
	}
	body = bytes.TrimSpace(body)
	var rows []store.Row
	switch {
	case len(body) > 0 && body[0] == '[':
		err = json.Unmarshal(body, &rows)
	default:
		var one store.Row
		err = json.Unmarshal(body, &one)
		rows = []store.Row{one}
	}
	if err != nil || len(rows) == 0 || rows[0] == nil {
		return nil, &store.Error{Status: 400, Code: "PGRST102", Message: "body must be a JSON object or an array of objects"}
	}
	return rows, nil
}

func prefers(r *http.Request, what string) bool {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.TrimSpace(part) == what {
				return true
			}
		}
	}
	return false
}

func writeRows(w http.ResponseWriter, status int, rows []store.Row) {
	if rows == nil {
		rows = []store.Row{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rows)
}

// serveREST is a PostgREST-compatible subset over the store's tables:
// GET with eq/neq/lt/lte/gt/gte/in filters, order and limit; POST (insert,
// or upsert with Prefer: resolution=merge-duplicates); PATCH; DELETE.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	if code, msg := s.authorize(r); code != 0 {
		writeJSONError(w, code, msg)
		return
	}
	claims, ok := s.restIdentity(w, r)
	if !ok {
		return
	}
	st := s.cfg.Store
	if st == nil {
		restError(w, &store.Error{Status: 404, Code: "PGRST000", Message: "this server keeps no tables"})
		return
	}
	table := r.PathValue("table")
	q, err := parseQuery(r)
	if err != nil {
		restError(w, err)
		return
	}
	ctx := r.Context()
	var rows []store.Row
	var changes []store.Change
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if rows, err = st.Select(ctx, table, q); err == nil {
			rows = s.readable(ctx, claims.UserID(), rows)
		}
	case http.MethodPost:
		var in []store.Row
		if in, err = readRows(w, r, s.cfg.MaxFrameBytes); err == nil {
			if err = s.mayWrite(ctx, claims, table, in); err == nil {
				err = s.mayPost(ctx, claims.UserID(), table, in)
			}
			if err == nil {
				rows, changes, err = st.Insert(ctx, table, in, prefers(r, "resolution=merge-duplicates"))
				status = http.StatusCreated
			}
		}
	case http.MethodPatch:
		var in []store.Row
		if in, err = readRows(w, r, s.cfg.MaxFrameBytes); err == nil {
			if len(in) != 1 {
				err = &store.Error{Status: 400, Code: "PGRST102", Message: "PATCH takes one JSON object"}
			} else if err = s.mayChange(ctx, claims, table, q.Filters, in[0]); err == nil {
				rows, changes, err = st.Update(ctx, table, q.Filters, in[0])
			}
		}
	case http.MethodDelete:
		if err = s.mayChange(ctx, claims, table, q.Filters, nil); err == nil {
			rows, changes, err = st.Delete(ctx, table, q.Filters)
		}
	default:
		w.Header().Set("Allow", "GET, POST, PATCH, DELETE")
		restError(w, &store.Error{Status: 405, Code: "PGRST117", Message: "method " + r.Method + " is not supported"})
		return
	}
	if err != nil {
		restError(w, err)
		return
	}
	s.publishChanges(changes)
	if r.Method != http.MethodGet && !prefers(r, "return=representation") {
		w.WriteHeader(map[bool]int{true: http.StatusCreated, false: http.StatusNoContent}[r.Method == http.MethodPost])
		return
	}
	writeRows(w, status, rows)
}

// controlRequest is the spec's body for POST /functions/v1/sync/control;
// extra fields (seq, epoch, speed, at_ms, username) are passed through to
// the broadcast so our followers can order it.
type controlRequest struct {
	RoomID      string   `json:"room_id"`
	UserID      string   `json:"user_id"`
	Action      string   `json:"action"`
	CurrentTime *float64 `json:"current_time"`
	Username    string   `json:"username,omitempty"`
	Seq         uint64   `json:"seq,omitempty"`
	Epoch       string   `json:"epoch,omitempty"`
	Speed       float64  `json:"speed,omitempty"`
	AtMS        float64  `json:"at_ms,omitempty"`
}

// serveSyncControl lets a room's host play, pause or seek: it checks the
// caller hosts the room (the first caller of a room without a row becomes
// its host), stores the state, and broadcasts the spec event to room:{id}.
func (s *Server) serveSyncControl(w http.ResponseWriter, r *http.Request) {
	if code, msg := s.authorize(r); code != 0 {
		writeJSONError(w, code, msg)
		return
	}
	claims, ok := s.functionIdentity(w, r)
	if !ok {
		return
	}
	if s.cfg.Store == nil {
		writeJSONError(w, http.StatusNotFound, "this server keeps no room state")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "body over 64 KiB")
		return
	}
	var req controlRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be JSON {room_id, user_id, action, current_time}: "+err.Error())
		return
	}
	switch {
	case req.RoomID == "" || req.UserID == "":
		writeJSONError(w, http.StatusBadRequest, "room_id and user_id are required")
		return
	case req.Action != "play" && req.Action != "pause" && req.Action != "seek":
		writeJSONError(w, http.StatusBadRequest, "action must be play, pause or seek")
		return
	case req.CurrentTime == nil || math.IsNaN(*req.CurrentTime) || math.IsInf(*req.CurrentTime, 0) || *req.CurrentTime < 0:
		writeJSONError(w, http.StatusBadRequest, "current_time must be a finite, non-negative number of seconds")
		return
	}
	if uid := claims.UserID(); uid != "" && req.UserID != uid {
		writeJSONError(w, http.StatusForbidden, "user_id must be your own ("+uid+"): you are signed in as that user")
		return
	}
	ctx := r.Context()
	st := s.cfg.Store
	key := []store.Filter{{Column: "room_id", Op: "eq", Values: []any{req.RoomID}}}
	existing, err := st.Select(ctx, "rooms", store.Query{Filters: key})
	if err != nil {
		restError(w, err)
		return
	}
	// The host the server holds keeps the role while it is in the room
	// (signed in on the channel, or a web host tracking its presence);
	// once it has left, whoever the members elected may take over.
	topicKey := "realtime:room:" + req.RoomID
	previous := s.CurrentHost(req.RoomID)
	if previous != "" && previous != req.UserID && (s.online(topicKey, previous) || s.present(topicKey, previous)) {
		writeJSONError(w, http.StatusForbidden, fmt.Sprintf("only the room's host (%s) can control playback", previous))
		return
	}
	if claims.UserID() == "" && s.isUser(req.UserID) {
		writeJSONError(w, http.StatusForbidden, "user_id "+req.UserID+" is a signed-in user: sign in as yourself")
		return
	}
	if ok, err := s.canEnter(r.Context(), claims.UserID(), req.RoomID); err != nil || !ok {
		writeJSONError(w, http.StatusForbidden, fmt.Sprintf(msgNotMember, req.RoomID, req.RoomID))
		return
	}
	set := store.Row{"current_playback_time": *req.CurrentTime, "host_user_id": req.UserID}
	switch req.Action {
	case "play":
		set["is_playing"] = true
	case "pause":
		set["is_playing"] = false
	}
	var rows []store.Row
	var changes []store.Change
	if len(existing) == 0 {
		set["room_id"] = req.RoomID
		rows, changes, err = st.Insert(ctx, "rooms", []store.Row{set}, true)
	} else {
		rows, changes, err = st.Update(ctx, "rooms", key, set)
	}
	if err != nil {
		restError(w, err)
		return
	}
	s.publishChanges(changes)
	s.noteHost(topicKey, req.UserID, req.Username)
	topic := "room:" + req.RoomID
	if previous == "" || previous != req.UserID {
		// The stored host changed hands (a web host took an empty or
		// abandoned room): say so first, so members follow the events
		// that come next from their new host.
		s.publishRoom(topic, "new_host", specEvent("new_host", req.RoomID, map[string]any{"user_id": req.UserID, "username": req.Username}))
	}
	payload := map[string]any{"current_time": *req.CurrentTime, "user_id": req.UserID, "username": req.Username}
	if req.Seq != 0 {
		payload["seq"], payload["epoch"], payload["speed"], payload["at_ms"] = req.Seq, req.Epoch, req.Speed, req.AtMS
	}
	s.publishRoom(topic, req.Action, specEvent(req.Action, req.RoomID, payload))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "room": rows[0]})
}

// specEvent is a spec event as the server broadcasts it, in the shape our
// clients send (room.Envelope.Wire): the envelope {type, payload, room_id,
// timestamp} with the payload's fields repeated beside it, so web clients
// that read msg.payload.current_time and those that read
// msg.payload.payload.current_time both find it.
func specEvent(typ, roomID string, payload map[string]any) json.RawMessage {
	flat := make(map[string]any, len(payload)+4)
	for k, v := range payload {
		flat[k] = v
	}
	flat["type"], flat["payload"], flat["room_id"], flat["timestamp"] = typ, payload, roomID, time.Now().UnixMilli()
	raw, _ := json.Marshal(flat) // numbers, strings and bools only
	return raw
}
