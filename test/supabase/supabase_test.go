// Package supabase checks supabase/migrations against a real PostgreSQL:
// the migration applies, and row-level security and sync_control() allow
// and refuse what they should for users identified by JWT claims, as
// PostgREST sets them.
package supabase

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// pg is a private PostgreSQL instance on a unix socket in a temp dir (no
// TCP at all), run as the postgres user when we are root.
type pg struct {
	t      *testing.T
	bin    string
	dir    string
	port   int
	asUser []string
}

func findPGBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return ""
	}
	return dirs[len(dirs)-1]
}

func startPG(t *testing.T) *pg {
	t.Helper()
	bin := findPGBin()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL is required in CI (.ci/run installs it)")
		}
		t.Skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "watchium-pg")
	if err != nil {
		t.Fatal(err)
	}
	p := &pg{t: t, bin: bin, dir: dir, port: 54000 + os.Getpid()%1000}
	if u, _ := user.Current(); u != nil && u.Uid == "0" {
		// PostgreSQL refuses to run as root.
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	p.run(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.run(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-w", "-t", "30", "-l", filepath.Join(dir, "log"),
		"-o", fmt.Sprintf("-c listen_addresses='' -k %s -p %d -c fsync=off", dir, p.port), "start")
	t.Cleanup(func() {
		_ = p.cmd(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	return p
}

func (p *pg) cmd(args ...string) *exec.Cmd {
	all := append(append([]string(nil), p.asUser...), args...)
	return exec.Command(all[0], all[1:]...)
}

func (p *pg) run(args ...string) {
	p.t.Helper()
	if out, err := p.cmd(args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("%v: %v\n%s\n%s", args, err, out, log)
	}
}

// psql runs sql as the superuser and returns stdout, or the error text.
func (p *pg) psql(sql string) (string, error) {
	c := p.cmd("psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", p.dir, "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", "postgres")
	c.Stdin = strings.NewReader(sql)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func (p *pg) mustSQL(sql string) string {
	p.t.Helper()
	out, err := p.psql(sql)
	if err != nil {
		p.t.Fatalf("%s\n%v", sql, err)
	}
	return out
}

// as runs sql in a transaction as an authenticated user (PostgREST's way:
// SET ROLE plus request.jwt.claims).
func (p *pg) as(userID, sql string) (string, error) {
	return p.psql(fmt.Sprintf(`begin;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"%s","role":"authenticated"}', true) \g /dev/null
%s
commit;`, userID, sql))
}

// supabaseStubs stands in for what a Supabase database has before any
// migration: the API roles and auth.uid() reading the JWT claims.
const supabaseStubs = `
create role anon nologin;
create role authenticated nologin;
create role service_role nologin bypassrls;
create schema auth;
create function auth.uid() returns uuid language sql stable as $$
  select nullif(current_setting('request.jwt.claims', true)::json->>'sub', '')::uuid
$$;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
-- Realtime's authorization table, as Supabase has it: a private channel's
-- join is allowed when the user may select (and, to send, insert) rows of
-- realtime.messages with realtime.topic() set to the channel's topic.
create schema realtime;
create table realtime.messages (
  id bigserial primary key, topic text not null, extension text not null,
  payload jsonb, event text, private boolean default true, inserted_at timestamptz not null default now()
);
create function realtime.topic() returns text language sql stable as $$
  select nullif(current_setting('realtime.topic', true), '')
$$;
alter table realtime.messages enable row level security;
grant usage on schema realtime to anon, authenticated;
grant select, insert on realtime.messages to anon, authenticated;
grant usage, select on sequence realtime.messages_id_seq to anon, authenticated;
`

const (
	alice = "11111111-1111-1111-1111-111111111111"
	bob   = "22222222-2222-2222-2222-222222222222"
	eve   = "33333333-3333-3333-3333-333333333333"
)

func TestMigrationRLSAndSyncControl(t *testing.T) {
	p := startPG(t)
	p.mustSQL(supabaseStubs)
	p.applyMigrations(t, "")
	if got := p.mustSQL(`select count(*) from pg_publication_tables where pubname = 'supabase_realtime'`); got != "3" {
		t.Fatalf("tables in the realtime publication: %s", got)
	}

	must := func(user, sql string) string {
		t.Helper()
		out, err := p.as(user, sql)
		if err != nil {
			t.Fatalf("as %s: %s\n%v", user, sql, err)
		}
		return out
	}
	refused := func(user, sql, why string) {
		t.Helper()
		if out, err := p.as(user, sql); err == nil {
			t.Fatalf("as %s, %s was allowed (%q); it should be refused: %s", user, sql, out, why)
		}
	}

	// Alice creates the room through host control and joins it; Bob joins.
	must(alice, `select room_id from public.sync_control('movie', 'pause', 0);`)
	must(alice, `insert into public.room_members (room_id, user_id, username) values ('movie', auth.uid()::text, 'alice');`)
	must(bob, `insert into public.room_members (room_id, user_id, username) values ('movie', auth.uid()::text, 'bob');`)
	refused(eve, `insert into public.room_members (room_id, user_id, username) values ('movie', '`+bob+`', 'not bob');`, "joining as someone else")

	// Members read their room; others do not see it.
	if got := must(bob, `select host_user_id from public.rooms where room_id = 'movie';`); got != alice {
		t.Fatalf("bob reads the room: %q", got)
	}
	if got := must(eve, `select count(*) from public.rooms;`); got != "0" {
		t.Fatalf("a non-member sees %s rooms", got)
	}

	// Only the host controls playback.
	if got := must(alice, `select is_playing || ' ' || current_playback_time from public.sync_control('movie', 'play', 12.5);`); got != "true 12.5" {
		t.Fatalf("host play: %q", got)
	}
	refused(bob, `select public.sync_control('movie', 'pause', 1);`, "a non-host pausing")
	refused(alice, `select public.sync_control('movie', 'rewind', 1);`, "an unknown action")
	refused(alice, `select public.sync_control('movie', 'seek', -3);`, "a negative time")
	refused(alice, `select public.sync_control('movie', 'seek', 'NaN');`, "NaN")
	refused("", `select public.sync_control('movie', 'seek', 1);`, "no user")
	// Direct updates: the host may, others change nothing.
	must(alice, `update public.rooms set current_playback_time = 30 where room_id = 'movie';`)
	if got := must(bob, `update public.rooms set current_playback_time = 99 where room_id = 'movie' returning 1;`); got != "" {
		t.Fatalf("bob updated the room: %q", got)
	}
	if got := p.mustSQL(`select current_playback_time from public.rooms where room_id = 'movie'`); got != "30" {
		t.Fatalf("room time after bob's update: %s", got)
	}
	// The playlist lives on the room row: the host writes it, members read
	// it (a rejoining member sees it), others change nothing.
	must(alice, `update public.rooms set playlist = '{"entries":[{"name":"ep1.mkv"}],"current":0}' where room_id = 'movie';`)
	if got := must(bob, `update public.rooms set playlist = '{"entries":[],"current":-1}' where room_id = 'movie' returning 1;`); got != "" {
		t.Fatalf("bob updated the playlist: %q", got)
	}
	if got := must(bob, `select playlist from public.rooms where room_id = 'movie';`); got != `{"entries":[{"name":"ep1.mkv"}],"current":0}` {
		t.Fatalf("bob reads the playlist as %q", got)
	}

	// Chat: members post as themselves and read the room's chat.
	must(bob, `insert into public.comments (room_id, user_id, username, content) values ('movie', auth.uid()::text, 'bob', 'hi');`)
	refused(bob, `insert into public.comments (room_id, user_id, username, content) values ('movie', '`+alice+`', 'alice', 'forged');`, "posting as someone else")
	refused(eve, `insert into public.comments (room_id, user_id, username, content) values ('movie', auth.uid()::text, 'eve', 'spam');`, "posting to a room one is not in")
	refused(bob, `insert into public.comments (room_id, user_id, username, content) values ('movie', auth.uid()::text, 'bob', repeat('x', 4001));`, "an oversized comment")
	refused(bob, `insert into public.comments (room_id, user_id, username, content, is_system_message) values ('movie', auth.uid()::text, 'bob', 'x', true);`, "a fake system message")
	if got := must(alice, `select content from public.comments where room_id = 'movie';`); got != "hi" {
		t.Fatalf("alice reads chat: %q", got)
	}
	if got := must(eve, `select count(*) from public.comments;`); got != "0" {
		t.Fatalf("eve reads %s comments", got)
	}
}

// applyMigrations applies every migration in order; what the database
// lacks (when) goes into the failure.
func (p *pg) applyMigrations(t *testing.T, when string) {
	t.Helper()
	files, _ := filepath.Glob("../../supabase/migrations/*.sql")
	if len(files) == 0 {
		t.Fatal("no migrations found")
	}
	sort.Strings(files)
	for _, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.psql(string(sql)); err != nil {
			t.Fatalf("migration %s does not apply%s: %v", filepath.Base(f), when, err)
		}
	}
}
