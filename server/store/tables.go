package store

import (
	"strings"

	"github.com/watchium/watchium-tui/internal/ids"
)

// Column is one column of a table, with the PostgreSQL type name that
// postgres_changes reports for it (the same schema runs on Supabase).
type Column struct {
	Name   string
	PGType string // text, float8, int8, bool, timestamptz
}

// Table describes one table clients may query, with the rules the
// Supabase schema gives it (column defaults, triggers, checks) as its own
// functions, so a table's behaviour is in one place and a new table cannot
// fall through a switch on its name. Nil hooks do nothing.
type Table struct {
	Name    string
	Key     []string // primary key columns
	Columns []Column

	// newKey fills a key the database generates (comments.id), before the
	// key is checked.
	newKey func(r Row)
	// touch stamps the columns a trigger keeps current on every write.
	touch func(r Row, ts string)
	// fill sets the column defaults of a new row.
	fill func(r Row, ts string)
	// check validates the fields present in r (any write).
	check func(r Row) error
	// checkNew validates what a new row must have beyond its key.
	checkNew func(r Row) error
	// keep carries columns of the stored row into an upsert of it that
	// leaves them out: SQLite checks NOT NULL on the proposed row before
	// the upsert's update, where PostgreSQL keeps the old values.
	keep func(r, old Row)
}

func (t Table) column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Tables are the spec's tables, as clients see them.
var Tables = map[string]Table{
	"rooms": {Name: "rooms", Key: []string{"room_id"}, Columns: []Column{
		{"room_id", "text"}, {"host_user_id", "text"}, {"current_playback_time", "float8"},
		{"is_playing", "bool"}, {"media_filename", "text"}, {"media_duration", "float8"},
		{"media_size", "int8"}, {"updated_at", "timestamptz"}, {"playlist", "text"},
		{"is_private", "bool"}, {"owner_user_id", "text"},
	}, touch: touchRoom, fill: fillRoom, check: checkRoom},
	"room_members": {Name: "room_members", Key: []string{"room_id", "user_id"}, Columns: []Column{
		{"room_id", "text"}, {"user_id", "text"}, {"username", "text"}, {"avatar_url", "text"},
		{"joined_at", "timestamptz"}, {"last_seen", "timestamptz"}, {"public_key", "text"},
	}, touch: touchMember, fill: fillMember, keep: keepJoinedAt},
	"comments": {Name: "comments", Key: []string{"id"}, Columns: []Column{
		{"id", "text"}, {"room_id", "text"}, {"user_id", "text"}, {"username", "text"},
		{"content", "text"}, {"created_at", "timestamptz"}, {"is_system_message", "bool"},
	}, newKey: newCommentID, fill: fillComment, check: checkComment, checkNew: checkNewComment},
}

func touchRoom(r Row, ts string) { r["updated_at"] = ts }

func fillRoom(r Row, _ string) {
	setDefault(r, "current_playback_time", 0.0)
	setDefault(r, "is_playing", false)
}

func checkRoom(r Row) error {
	if v, ok := r["current_playback_time"].(float64); ok && (v < 0 || v != v || v > 1e9) {
		return badRequest("23514", "current_playback_time must be a finite, non-negative number of seconds")
	}
	return nil
}

func touchMember(r Row, ts string) { r["last_seen"] = ts }

// keepJoinedAt: a member's row upserted again (another terminal, a key put
// back) keeps the time it joined.
func keepJoinedAt(r, old Row) {
	if r["joined_at"] == nil {
		r["joined_at"] = old["joined_at"]
	}
}

func fillMember(r Row, ts string) { setDefault(r, "joined_at", ts) }

func newCommentID(r Row) { setDefault(r, "id", ids.New()) }

func fillComment(r Row, ts string) {
	setDefault(r, "created_at", ts)
	setDefault(r, "is_system_message", false)
}

func checkComment(r Row) error {
	if c, ok := r["content"]; ok {
		content, _ := c.(string)
		if strings.TrimSpace(content) == "" || len(content) > MaxContent {
			return badRequest("23514", "new row for relation \"comments\" violates check constraint \"comments_content_check\" (content must have 1 to %d bytes)", MaxContent)
		}
	}
	return nil
}

func checkNewComment(r Row) error {
	if _, ok := r["content"]; !ok {
		return badRequest("23502", "null value in column \"content\" of relation \"comments\" violates not-null constraint")
	}
	for _, k := range []string{"room_id", "user_id", "username"} {
		if s, _ := r[k].(string); s == "" {
			return badRequest("23502", "null value in column \"%s\" of relation \"comments\" violates not-null constraint", k)
		}
	}
	return nil
}

// setDefault sets r[col] to v unless it holds a value.
func setDefault(r Row, col string, v any) {
	if r[col] == nil {
		r[col] = v
	}
}
