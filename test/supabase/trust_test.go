package supabase

import (
	"fmt"
	"strings"
	"testing"
)

// realtimeSend stands in for Realtime's realtime.send(payload, event,
// topic, private) as Supabase installs it: the broadcast is a row of
// realtime.messages (extension 'broadcast') that Realtime fans out, and a
// failure is a warning, never the caller's error.
const realtimeSend = `
create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void language plpgsql as $$
begin
  begin
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (payload, event, topic, private, extension)
    values (payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;
`

// migrated starts PostgreSQL with Supabase's stubs (realtime.send
// included) and every migration.
func migrated(t *testing.T) *pg {
	t.Helper()
	p := startPG(t)
	p.mustSQL(supabaseStubs)
	p.mustSQL(realtimeSend)
	p.applyMigrations(t, "")
	return p
}

// onChannel runs sql as userID the way Supabase Realtime authorizes a
// private channel: the user's role and claims, and realtime.topic() set.
func (p *pg) onChannel(userID, topic, sql string) (string, error) {
	role := "authenticated"
	if userID == "" {
		role = "anon"
	}
	return p.psql(fmt.Sprintf(`begin;
set local role %s;
select set_config('request.jwt.claims', '{"sub":"%s","role":"%s"}', true) \g /dev/null
select set_config('realtime.topic', '%s', true) \g /dev/null
%s
commit;`, role, userID, role, topic, sql))
}

func TestPrivateRoomsInvitesAndHostClaims(t *testing.T) {
	p := migrated(t)
	must := func(user, sql string) string {
		t.Helper()
		out, err := p.as(user, sql)
		if err != nil {
			t.Fatalf("as %s: %s\n%v", user, sql, err)
		}
		return out
	}
	refused := func(user, sql, why, msg string) {
		t.Helper()
		out, err := p.as(user, sql)
		if err == nil {
			t.Fatalf("as %s, %s was allowed (%q); it should be refused: %s", user, sql, out, why)
		}
		if !strings.Contains(err.Error(), msg) {
			t.Fatalf("as %s, %s: refused with %v, want %q (%s)", user, sql, err, msg, why)
		}
	}
	const carol = "44444444-4444-4444-4444-444444444444"

	// Alice creates a private room; the code is 128 bits, stored hashed.
	code := must(alice, `select public.create_private_room('den')->>'invite';`)
	if len(code) != 32 {
		t.Fatalf("invite code %q", code)
	}
	if got := p.mustSQL(`select count(*) from watchium_private.room_invites where code_hash = '` + code + `' or salt = '` + code + `'`); got != "0" {
		t.Fatal("the code is stored in clear")
	}
	refused(bob, `select public.create_private_room('den');`, "a taken name", "already exists")
	must(bob, `select public.sync_control('lobby', 'pause', 0);`)
	refused(bob, `select public.create_private_room('lobby');`, "a public room's name", "already exists")
	must(alice, `insert into public.room_members (room_id, user_id, username) values ('den', auth.uid()::text, 'alice');`)
	must(alice, `insert into public.comments (room_id, user_id, username, content) values ('den', auth.uid()::text, 'alice', 'secret plans');`)

	// Eve (signed in, not invited) gets nothing: no rows, no membership,
	// no channel, no control, no invite.
	refused(eve, `select public.join_room('den');`, "no invite", "not a member")
	refused(eve, `select public.join_room('den', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');`, "a wrong invite", "does not open")
	refused(eve, `insert into public.room_members (room_id, user_id, username) values ('den', auth.uid()::text, 'eve');`, "joining without access", "row-level security")
	refused(eve, `insert into public.comments (room_id, user_id, username, content) values ('den', auth.uid()::text, 'eve', 'hi');`, "posting without access", "row-level security")
	refused(eve, `select public.sync_control('den', 'play', 1);`, "controlling a room one cannot enter", "not a member")
	refused(eve, `select public.claim_host('den', 0);`, "claiming a room one cannot enter", "not a member")
	refused(eve, `select public.room_invite('den');`, "reading the invite", "not a member")
	refused(eve, `select * from watchium_private.room_invites;`, "reading the hashes", "permission denied")
	refused(eve, `update public.rooms set is_private = false where room_id = 'den';`, "making it public", "permission denied")
	refused(alice, `update public.rooms set host_user_id = '`+eve+`' where room_id = 'den';`, "changing the host by hand", "permission denied")
	refused(eve, `insert into public.rooms (room_id, host_user_id, is_private) values ('mine', auth.uid()::text, true);`, "a private room without an invite", "permission denied")
	for _, q := range []string{`select count(*) from public.rooms where room_id = 'den';`, `select count(*) from public.comments where room_id = 'den';`, `select count(*) from public.room_members where room_id = 'den';`} {
		if got := must(eve, q); got != "0" {
			t.Errorf("eve: %s → %s", q, got)
		}
	}
	readChannel := `select count(*) from realtime.messages where topic = 'room:den';`
	sendChannel := `insert into realtime.messages (topic, extension, event, payload) values ('room:den', 'broadcast', 'pause', '{}');`
	for _, who := range []string{eve, ""} {
		if _, err := p.onChannel(who, "room:den", sendChannel); err == nil {
			t.Errorf("%q sends on the private channel room:den", who)
		}
	}
	if out, err := p.onChannel(alice, "room:den", sendChannel+readChannel); err != nil || out != "1" {
		t.Fatalf("alice on her channel: %q %v", out, err)
	}
	if out, err := p.onChannel(eve, "room:den", readChannel); err != nil || out != "0" {
		t.Errorf("eve reads the private channel's messages: %q %v", out, err)
	}

	// Bob redeems the invite once; from then on he is a member.
	if got := must(bob, `select public.join_room('den', '`+strings.ToUpper(code)+`')->>'is_private';`); got != "true" {
		t.Fatalf("join_room with the invite: %q", got)
	}
	must(bob, `select public.join_room('den');`)
	must(bob, `insert into public.room_members (room_id, user_id, username, public_key) values ('den', auth.uid()::text, 'bob', 'AAAA');`)
	if got := must(bob, `select content from public.comments where room_id = 'den';`); got != "secret plans" {
		t.Errorf("bob reads the chat: %q", got)
	}
	if got := must(bob, `select public.room_invite('den')->>'invite';`); got != code {
		t.Errorf("a member reads the invite: %q", got)
	}
	if out, err := p.onChannel(bob, "room:den", readChannel); err != nil || out != "1" {
		t.Errorf("bob on the channel: %q %v", out, err)
	}
	if got := must(bob, `update public.room_members set public_key = 'x' where room_id = 'den' and user_id = '`+alice+`' returning 1;`); got != "" {
		t.Errorf("bob set a key on alice's row: %q", got)
	}
	if got := p.mustSQL(`select coalesce(public_key, '') from public.room_members where user_id = '` + alice + `'`); got != "" {
		t.Errorf("bob changed alice's key: %q", got)
	}

	// Rotation: only the owner; the old code stops working.
	refused(bob, `select public.rotate_invite('den');`, "a member rotating", "owner")
	fresh := must(alice, `select public.rotate_invite('den')->>'invite';`)
	if fresh == code || len(fresh) != 32 {
		t.Fatalf("rotated code %q", fresh)
	}
	refused(carol, `select public.join_room('den', '`+code+`');`, "the old code", "does not open")
	must(carol, `select public.join_room('den', '`+fresh+`');`)

	// Host changes go through the database.
	refused(bob, `select public.claim_host('den', 0);`, "grabbing a live host's room", "still here")
	refused(bob, `select public.hand_over('den', '`+bob+`');`, "a member handing over", "only the room's host")
	refused(alice, `select public.hand_over('den', '`+eve+`');`, "handing to an outsider", "not a member")
	if got := must(alice, `select host_user_id from public.hand_over('den', '`+bob+`');`); got != bob {
		t.Fatalf("hand_over: %q", got)
	}
	refused(alice, `select public.sync_control('den', 'play', 1);`, "the old host", "only the room's host")
	p.mustSQL(`update public.rooms set host_seen_at = now() - interval '1 minute' where room_id = 'den'`)
	if got := must(carol, `select host_user_id from public.claim_host('den');`); got != carol {
		t.Fatalf("claim after the host went silent: %q", got)
	}
	must(carol, `select public.host_alive('den');`)
	refused(bob, `select public.claim_host('den');`, "claiming from a live host", "still here")

	// Kick: the owner (or host) only; access, row and reading end.
	refused(bob, `select public.kick_member('den', '`+carol+`');`, "a member kicking", "owner or host")
	refused(carol, `select public.kick_member('den', '`+alice+`');`, "kicking the owner", "owner cannot")
	if got := must(alice, `select public.kick_member('den', '`+bob+`')->>'removed';`); got != "true" {
		t.Fatalf("kick: %q", got)
	}
	refused(bob, `select public.join_room('den');`, "a kicked member", "not a member")
	if got := must(bob, `select count(*) from public.comments where room_id = 'den';`); got != "0" {
		t.Errorf("a kicked member reads %s comments", got)
	}
	if _, err := p.onChannel(bob, "room:den", sendChannel); err == nil {
		t.Error("a kicked member sends on the channel")
	}
	if got := must(alice, `select content from public.comments where is_system_message;`); !strings.Contains(got, "bob was removed") {
		t.Errorf("system message: %q", got)
	}
	// The room heard it: member_removed on its private channel, in the
	// spec's envelope with the fields beside it, naming who removed whom.
	notice := p.mustSQL(`select event || ' ' || topic || ' ' || private || ' ' || extension || ' ' ||
		(payload->>'type') || ' ' || (payload->'payload'->>'user_id') || ' ' || (payload->>'by') || ' ' || (payload->>'username')
		from realtime.messages where event = 'member_removed'`)
	if want := "member_removed room:den true broadcast member_removed " + bob + " " + alice + " bob"; notice != want {
		t.Errorf("kick notice %q, want %q", notice, want)
	}
	if got, err := p.onChannel(carol, "room:den", `select count(*) from realtime.messages where event = 'member_removed' and topic = 'room:den';`); err != nil || got != "1" {
		t.Errorf("a member reads the notice on the channel: %q %v", got, err)
	}
	// Public rooms are as before: anyone signed in.
	must(eve, `select public.join_room('lobby');`)
	must(eve, `insert into public.room_members (room_id, user_id, username) values ('lobby', auth.uid()::text, 'eve');`)
}

// Without Realtime's realtime.send (a database where Realtime is not set
// up) the migrations still apply and kick_member still kicks; only the
// notice is not sent.
func TestKickWithoutRealtimeSend(t *testing.T) {
	p := startPG(t)
	p.mustSQL(supabaseStubs)
	p.applyMigrations(t, " without realtime.send")
	code, err := p.as(alice, `select public.create_private_room('den')->>'invite';`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.as(bob, `select public.join_room('den', '`+code+`');`); err != nil {
		t.Fatal(err)
	}
	if out, err := p.as(alice, `select public.kick_member('den', '`+bob+`')->>'removed';`); err != nil || out != "true" {
		t.Fatalf("kick without realtime.send: %q %v", out, err)
	}
	if got := p.mustSQL(`select count(*) from realtime.messages`); got != "0" {
		t.Errorf("%s messages without realtime.send", got)
	}
}
