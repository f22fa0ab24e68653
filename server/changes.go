package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/server/store"
)

// watchChanges parses sub's postgres_changes bindings and registers it for
// the matching row changes.
func (s *Server) watchChanges(sub *subscription) error {
	if s.cfg.Store == nil {
		return fmt.Errorf("Unable to subscribe to changes with given parameters: this server keeps no tables (start it with storage)")
	}
	for i := range sub.pgIDs {
		b := &sub.pgIDs[i]
		str := func(k string) string {
			var v string
			_ = json.Unmarshal(b.spec[k], &v)
			return v
		}
		b.event = strings.ToUpper(str("event"))
		if b.event != "INSERT" && b.event != "UPDATE" && b.event != "DELETE" {
			b.event = "*"
		}
		b.schema, b.table = str("schema"), str("table")
		if b.schema == "" {
			b.schema = "public"
		}
		if b.schema != "public" && b.schema != "*" {
			return fmt.Errorf("Unable to subscribe to changes with given parameters: schema %q has no tables here (only public)", b.schema)
		}
		if b.table != "" && b.table != "*" {
			if _, ok := store.Tables[b.table]; !ok {
				return fmt.Errorf("Unable to subscribe to changes with given parameters: table public.%s does not exist", b.table)
			}
		}
		fs, err := store.ParseFilters(str("filter"))
		if err == nil && b.table != "" && b.table != "*" {
			err = store.CheckColumns(b.table, fs)
		}
		if err != nil {
			return fmt.Errorf("Error parsing `filter` params: %v", err)
		}
		b.filters = fs
	}
	s.pgMu.Lock()
	s.pgSubs[sub] = struct{}{}
	s.pgMu.Unlock()
	return nil
}

func (s *Server) unwatchChanges(sub *subscription) {
	s.pgMu.Lock()
	delete(s.pgSubs, sub)
	s.pgMu.Unlock()
}

type pgColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// publishChanges sends each change, shaped as Supabase sends it, to every
// channel with a matching binding: one frame per channel, carrying the ids
// of the bindings it matched.
func (s *Server) publishChanges(changes []store.Change) {
	if len(changes) == 0 {
		return
	}
	s.pgMu.Lock()
	subs := make([]*subscription, 0, len(s.pgSubs))
	for sub := range s.pgSubs {
		subs = append(subs, sub)
	}
	s.pgMu.Unlock()
	for _, ch := range changes {
		t := store.Tables[ch.Table]
		cols := make([]pgColumn, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = pgColumn{c.Name, c.PGType}
		}
		data := map[string]any{
			"schema": "public", "table": ch.Table, "type": ch.Type, "columns": cols, "errors": nil,
			"commit_timestamp": ch.At.Format("2006-01-02T15:04:05.000Z"),
		}
		if ch.Record != nil {
			data["record"] = ch.Record
		}
		if ch.Old != nil {
			data["old_record"] = ch.Old
		}
		audience := s.changeAudience(ch)
		for _, sub := range subs {
			if audience != nil && !audience(sub.UserID()) {
				continue // a private room's row, and sub is no member
			}
			var ids []uint32
			for _, b := range sub.pgIDs {
				if b.matches(ch) {
					ids = append(ids, b.id)
				}
			}
			if len(ids) == 0 {
				continue
			}
			raw, _ := json.Marshal(map[string]any{"ids": ids, "data": data})
			sub.c.write(phx.Message{Topic: sub.topic, Event: phx.EventPGChanges, Payload: raw})
		}
	}
}

func (b pgBinding) matches(ch store.Change) bool {
	if b.event != "*" && b.event != ch.Type {
		return false
	}
	if b.table != "" && b.table != "*" && b.table != ch.Table {
		return false
	}
	if len(b.filters) == 0 {
		return true
	}
	row := ch.Record
	if row == nil {
		row = ch.Old
	}
	return store.Match(ch.Table, b.filters, row)
}
