package room

import (
	"encoding/json"
	"testing"

	"github.com/watchium/watchium-tui/realtime"
)

func TestMembersFromPresenceInJoinOrder(t *testing.T) {
	meta := func(id, name string, joined float64) []realtime.Presence {
		b, _ := json.Marshal(presenceMeta{UserID: id, Username: name, JoinedAt: joined})
		return []realtime.Presence{{Ref: "r", Data: b}}
	}
	st := map[string][]realtime.Presence{
		"c": meta("c", "carol", 300), "a": meta("a", "ana", 100), "b": meta("b", "bob", 200),
		"web":  {{Ref: "w", Data: json.RawMessage(`{"user_id":"web","username":"webby"}`)}}, // spec-only: no joined_at
		"gone": nil,
	}
	got := MembersFromPresence(st)
	var names []string
	for _, m := range got {
		names = append(names, m.Username)
	}
	if want := []string{"webby", "ana", "bob", "carol"}; len(names) != len(want) || names[0] != want[0] || names[3] != want[3] {
		t.Fatalf("members %v, want %v", names, want)
	}
}
