package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func comment(room, id, content string) Row {
	return Row{"id": id, "room_id": room, "user_id": "u1", "username": "ana", "content": content}
}

func TestMigrationsAreVersionedAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Version(); v != len(migrations) {
		t.Fatalf("version %d", v)
	}
	s.Close()
	s, err = Open(dir) // reopening applies nothing twice
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.db.Exec(`INSERT INTO schema_version VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir); err == nil {
		t.Fatal("opened a database from a newer version")
	}
}

func TestInsertSelectOrderLimitFilters(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		r := comment("a", fmt.Sprintf("c%d", i), fmt.Sprintf("msg %d", i))
		r["created_at"] = fmt.Sprintf("2026-01-01T00:00:0%d.000Z", i)
		if _, _, err := s.Insert(ctx, "comments", []Row{r}, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Insert(ctx, "comments", []Row{comment("b", "other", "elsewhere")}, false); err != nil {
		t.Fatal(err)
	}
	eq := func(c string, v any) Filter { return Filter{Column: c, Op: "eq", Values: []any{v}} }
	rows, err := s.Select(ctx, "comments", Query{Filters: []Filter{eq("room_id", "a")}, Order: []Order{{Column: "created_at", Desc: true}}, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0]["id"] != "c4" || rows[2]["id"] != "c2" || rows[0]["is_system_message"] != false {
		t.Fatalf("rows: %v", rows)
	}
	in, _ := ParseParam("id", "in.(c1,c3,nope)")
	rows, _ = s.Select(ctx, "comments", Query{Filters: []Filter{in}})
	if len(rows) != 2 {
		t.Fatalf("in: %v", rows)
	}
	gt, _ := ParseParam("created_at", "gt.2026-01-01T00:00:02.000Z")
	rows, _ = s.Select(ctx, "comments", Query{Filters: []Filter{gt, eq("room_id", "a")}})
	if len(rows) != 2 {
		t.Fatalf("gt: %v", rows)
	}
}

func TestUpsertUpdateDeleteReportChanges(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	room := Row{"room_id": "r", "host_user_id": "h", "current_playback_time": 1.5, "is_playing": true}
	_, ch, err := s.Insert(ctx, "rooms", []Row{room}, true)
	if err != nil || len(ch) != 1 || ch[0].Type != "INSERT" || ch[0].Record["is_playing"] != true {
		t.Fatalf("insert: %v %v", ch, err)
	}
	_, ch, err = s.Insert(ctx, "rooms", []Row{{"room_id": "r", "current_playback_time": 9.0}}, true)
	if err != nil || ch[0].Type != "UPDATE" || ch[0].Old["current_playback_time"] != 1.5 || ch[0].Record["current_playback_time"] != 9.0 || ch[0].Record["host_user_id"] != "h" {
		t.Fatalf("upsert: %+v %v", ch, err)
	}
	key := []Filter{{Column: "room_id", Op: "eq", Values: []any{"r"}}}
	rows, ch, err := s.Update(ctx, "rooms", key, Row{"is_playing": false})
	if err != nil || len(rows) != 1 || rows[0]["is_playing"] != false || ch[0].Old["is_playing"] != true {
		t.Fatalf("update: %v %v %v", rows, ch, err)
	}
	_, ch, err = s.Delete(ctx, "rooms", key)
	if err != nil || len(ch) != 1 || ch[0].Type != "DELETE" || ch[0].Old["room_id"] != "r" {
		t.Fatalf("delete: %v %v", ch, err)
	}
	if _, _, err := s.Delete(ctx, "rooms", nil); err == nil {
		t.Fatal("delete without a filter")
	}
}

func TestBadInputIsA4xx(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	status := func(err error) int {
		var se *Error
		if errors.As(err, &se) {
			return se.Status
		}
		return 0
	}
	cases := map[string]error{}
	_, _, cases["unknown table"] = s.Insert(ctx, "nope", []Row{{"a": 1}}, false)
	_, _, cases["unknown column"] = s.Insert(ctx, "comments", []Row{{"id": "x", "room_id": "r", "user_id": "u", "username": "n", "content": "c", "bogus": 1}}, false)
	big := make([]byte, MaxContent+1)
	for i := range big {
		big[i] = 'x'
	}
	_, _, cases["oversized comment"] = s.Insert(ctx, "comments", []Row{comment("r", "x", string(big))}, false)
	_, _, cases["empty comment"] = s.Insert(ctx, "comments", []Row{comment("r", "y", "  ")}, false)
	_, _, cases["negative time"] = s.Insert(ctx, "rooms", []Row{{"room_id": "r", "current_playback_time": -1.0}}, true)
	_, cases["filter on unknown column"] = s.Select(ctx, "comments", Query{Filters: []Filter{{Column: "nope", Op: "eq", Values: []any{"1"}}}})
	_, cases["bad bool"] = s.Select(ctx, "comments", Query{Filters: []Filter{{Column: "is_system_message", Op: "eq", Values: []any{"maybe"}}}})
	_, _, cases["change a key"] = s.Update(ctx, "rooms", nil, Row{"room_id": "other"})
	if _, _, err := s.Insert(ctx, "comments", []Row{comment("r", "dup", "one")}, false); err != nil {
		t.Fatal(err)
	}
	_, _, cases["duplicate id"] = s.Insert(ctx, "comments", []Row{comment("r", "dup", "two")}, false)
	for name, err := range cases {
		if st := status(err); st < 400 || st >= 500 {
			t.Errorf("%s: %v (status %d), want a 4xx", name, err, st)
		}
	}
	for _, bad := range []string{"room_id=foo.1", "room_id", "id=in.1,2", ",", "=eq.1"} {
		if _, err := ParseFilters(bad); err == nil {
			t.Errorf("filter %q parsed", bad)
		}
	}
}

func TestMatch(t *testing.T) {
	row := Row{"room_id": "r1", "current_playback_time": 12.5, "is_playing": true}
	for filter, want := range map[string]bool{
		"room_id=eq.r1": true, "room_id=neq.r1": false, "current_playback_time=gt.10": true,
		"current_playback_time=lte.12.5": true, "current_playback_time=lt.12": false,
		"room_id=in.(a,r1)": true, "is_playing=eq.true": true, "room_id=eq.r1,is_playing=eq.false": false,
	} {
		fs, err := ParseFilters(filter)
		if err != nil {
			t.Fatal(filter, err)
		}
		if got := Match("rooms", fs, row); got != want {
			t.Errorf("%s: %v", filter, got)
		}
	}
}
