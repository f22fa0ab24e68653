package realtime

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/watchium/watchium-tui/phx"
)

func (ch *Channel) postgresChangeLocked(m phx.Message) {
	var w struct {
		IDs  []json.RawMessage `json:"ids"`
		Data struct {
			Schema          string `json:"schema"`
			Table           string `json:"table"`
			CommitTimestamp string `json:"commit_timestamp"`
			Type            string `json:"type"`
			Columns         []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"columns"`
			Record    map[string]json.RawMessage `json:"record"`
			OldRecord map[string]json.RawMessage `json:"old_record"`
			Errors    json.RawMessage            `json:"errors"`
		} `json:"data"`
	}
	if err := json.Unmarshal(m.Payload, &w); err != nil {
		ch.c.log.Warn("realtime: bad postgres_changes", "err", err)
		return
	}
	types := map[string]string{}
	for _, col := range w.Data.Columns {
		types[col.Name] = col.Type
	}
	change := PostgresChange{
		Schema: w.Data.Schema, Table: w.Data.Table, CommitTimestamp: w.Data.CommitTimestamp,
		EventType: w.Data.Type, Errors: w.Data.Errors,
		New: map[string]json.RawMessage{}, Old: map[string]json.RawMessage{},
	}
	if w.Data.Type == "INSERT" || w.Data.Type == "UPDATE" {
		change.New = convertRecord(w.Data.Record, types)
	}
	if w.Data.Type == "UPDATE" || w.Data.Type == "DELETE" {
		change.Old = convertRecord(w.Data.OldRecord, types)
	}
	for _, b := range ch.pg {
		if b.id == nil || !containsID(w.IDs, b.id) {
			continue
		}
		if b.filter.Event != "*" && !strings.EqualFold(b.filter.Event, w.Data.Type) {
			continue
		}
		fn := b.fn
		ch.c.cb.push(func() { fn(change) })
	}
}

func containsID(ids []json.RawMessage, id json.RawMessage) bool {
	for _, x := range ids {
		if bytes.Equal(bytes.TrimSpace(x), bytes.TrimSpace(id)) {
			return true
		}
	}
	return false
}

// convertRecord turns string-encoded column values into JSON values by
// column type, as realtime-js does, so callers see numbers and booleans.
func convertRecord(rec map[string]json.RawMessage, types map[string]string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(rec))
	for k, v := range rec {
		out[k] = convertValue(v, types[k])
	}
	return out
}

func convertValue(v json.RawMessage, typ string) json.RawMessage {
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return v
	}
	switch typ {
	case "bool":
		switch s {
		case "t", "true":
			return json.RawMessage("true")
		case "f", "false":
			return json.RawMessage("false")
		}
	case "int2", "int4", "int8", "float4", "float8", "numeric", "oid":
		if isJSONNumber(s) {
			return json.RawMessage(s)
		}
	case "json", "jsonb":
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
	case "timestamp":
		b, _ := json.Marshal(strings.Replace(s, " ", "T", 1))
		return b
	}
	return v
}

// isJSONNumber reports whether s is a plain decimal numeral that JSON
// allows. strconv.ParseFloat also takes "NaN", "Inf", "Infinity", hex
// floats ("0x1p-2"), "+1", ".5" and underscores: as raw JSON those would
// break every json.Marshal of the change, so such values stay strings
// (Postgres sends "NaN" and "Infinity" for numeric and float columns).
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	if last := s[len(s)-1]; last < '0' || last > '9' {
		return false
	}
	return json.Valid([]byte(s))
}
