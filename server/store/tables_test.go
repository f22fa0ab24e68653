package store

import (
	"testing"
)

// Each table's rules are its own functions now, not branches of switches
// on its name, where a renamed table or a new one fell through in silence.
// This checks every descriptor against its own columns: a hook that
// writes a column the table does not have would fail every insert.
func TestTableDescriptorsAreConsistent(t *testing.T) {
	for name, tb := range Tables {
		if tb.Name != name {
			t.Errorf("Tables[%q].Name is %q", name, tb.Name)
		}
		for _, k := range tb.Key {
			if _, ok := tb.column(k); !ok {
				t.Errorf("%s: key column %s is not a column", name, k)
			}
		}
		r := Row{}
		if tb.newKey != nil {
			tb.newKey(r)
		}
		defaults(tb, r, true)
		for k := range r {
			if _, ok := tb.column(k); !ok {
				t.Errorf("%s: a hook sets %s, which is not a column", name, k)
			}
		}
	}
}

// The rules still apply per table, and only to their table.
func TestTableRulesStayWithTheirTable(t *testing.T) {
	r := Row{}
	defaults(Tables["rooms"], r, false)
	if r["updated_at"] == nil || r["current_playback_time"] != nil {
		t.Errorf("rooms upsert of an existing row: %v, want only updated_at", r)
	}
	r = Row{}
	defaults(Tables["room_members"], r, true)
	if r["last_seen"] == nil || r["joined_at"] == nil || r["updated_at"] != nil {
		t.Errorf("new member row: %v", r)
	}
	if err := validateValues(Tables["comments"], Row{"content": " "}); err == nil {
		t.Error("blank comment accepted")
	}
	if err := validateValues(Tables["rooms"], Row{"current_playback_time": -1.0}); err == nil {
		t.Error("negative playback time accepted")
	}
	if err := validate(Tables["comments"], Row{"id": "x", "content": "hi", "room_id": "r", "user_id": "u"}); err == nil {
		t.Error("comment without username accepted")
	}
	if err := validate(Tables["room_members"], Row{"room_id": "r", "user_id": "u", "username": "n"}); err != nil {
		t.Errorf("member row refused: %v", err)
	}
}
