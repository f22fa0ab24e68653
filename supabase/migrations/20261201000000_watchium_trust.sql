-- Watchium: private rooms, invites, members' signing keys and host changes
-- through the database. The embedded server (watchium-tui serve) enforces
-- the same rules in Go; here they are row-level security and security
-- definer functions, called over PostgREST's /rest/v1/rpc.

alter table public.rooms add column if not exists is_private boolean not null default false;
alter table public.rooms add column if not exists owner_user_id text;
-- When the host last proved it is alive (sync_control, host_alive); a host
-- silent past claim_host's timeout may be replaced.
alter table public.rooms add column if not exists host_seen_at timestamptz not null default now();
-- A member's Ed25519 public key (base64), against which followers verify
-- the host's signed playback events.
alter table public.room_members add column if not exists public_key text;

-- Who may enter a private room: kept across visits (room_members says who
-- is here now, and members delete their row when they leave).
create table if not exists public.room_access (
  room_id text not null,
  user_id text not null,
  granted_at timestamptz not null default now(),
  primary key (room_id, user_id)
);
alter table public.room_access enable row level security;
drop policy if exists access_select on public.room_access;
create policy access_select on public.room_access for select to authenticated
  using (user_id = auth.uid()::text);
grant select on public.room_access to authenticated;

-- Invite codes are stored only as hashes. A member can still be shown the
-- code: it is derived from a per-room salt and a key no client can read
-- (this schema is not exposed over the API, and only the functions below,
-- running as their owner, read it).
create schema if not exists watchium_private;
revoke all on schema watchium_private from public;
create table if not exists watchium_private.invite_key (
  id boolean primary key default true check (id),
  key text not null
);
insert into watchium_private.invite_key (key)
  values (encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'))
  on conflict do nothing;
create table if not exists watchium_private.room_invites (
  room_id text primary key,
  code_hash text not null,
  salt text not null,
  created_at timestamptz not null default now()
);

-- 128 bits, as 32 lower-case hex digits.
create or replace function watchium_private.invite_code(p_room_id text, p_salt text)
returns text language sql stable security definer set search_path = watchium_private, public as $$
  select left(encode(sha256(convert_to(k.key || ':' || p_room_id || ':' || p_salt, 'UTF8')), 'hex'), 32)
  from watchium_private.invite_key k
$$;
create or replace function watchium_private.code_hash(p_code text)
returns text language sql immutable as $$
  select encode(sha256(convert_to(lower(btrim(coalesce(p_code, ''))), 'UTF8')), 'hex')
$$;
create or replace function watchium_private.new_salt()
returns text language sql volatile as $$
  select replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
$$;

-- May the caller see the room? Public rooms: everyone signed in; private
-- ones: their members.
create or replace function public.can_enter_room(p_room_id text)
returns boolean language sql stable security definer set search_path = public as $$
  select not exists (select 1 from public.rooms r where r.room_id = p_room_id and r.is_private)
      or exists (select 1 from public.room_access a where a.room_id = p_room_id and a.user_id = auth.uid()::text)
$$;

-- The same messages as the embedded server's, so the client explains both alike.
create or replace function public.create_private_room(p_room_id text)
returns json language plpgsql security definer set search_path = public as $$
declare
  caller text := auth.uid()::text;
  fresh_salt text := watchium_private.new_salt();
  code text;
begin
  if caller is null then
    raise exception 'sign in first: private rooms need a user' using errcode = '42501';
  end if;
  if exists (select 1 from public.rooms where room_id = p_room_id)
     or exists (select 1 from public.comments where room_id = p_room_id) then
    raise exception 'room % already exists', p_room_id using errcode = '23505';
  end if;
  code := watchium_private.invite_code(p_room_id, fresh_salt);
  insert into public.rooms (room_id, host_user_id, owner_user_id, is_private) values (p_room_id, caller, caller, true);
  insert into public.room_access (room_id, user_id) values (p_room_id, caller);
  insert into watchium_private.room_invites (room_id, code_hash, salt) values (p_room_id, watchium_private.code_hash(code), fresh_salt);
  return json_build_object('room_id', p_room_id, 'is_private', true, 'invite', code);
end;
$$;

create or replace function public.join_room(p_room_id text, p_invite text default null)
returns json language plpgsql security definer set search_path = public as $$
declare
  caller text := auth.uid()::text;
  inv watchium_private.room_invites;
begin
  if caller is null then
    raise exception 'sign in first: private rooms need a user' using errcode = '42501';
  end if;
  if not exists (select 1 from public.rooms where room_id = p_room_id and is_private) then
    return json_build_object('room_id', p_room_id, 'is_private', false);
  end if;
  if exists (select 1 from public.room_access where room_id = p_room_id and user_id = caller) then
    return json_build_object('room_id', p_room_id, 'is_private', true);
  end if;
  if coalesce(btrim(p_invite), '') = '' then
    raise exception 'room % is private and you are not a member: ask a member for an invite (watchium-tui invite %) and pass --invite CODE', p_room_id, p_room_id using errcode = '42501';
  end if;
  select * into inv from watchium_private.room_invites where room_id = p_room_id;
  if not found or inv.code_hash <> watchium_private.code_hash(p_invite) then
    raise exception 'that invite code does not open room % (the owner may have replaced it: ask for a new one)', p_room_id using errcode = '42501';
  end if;
  insert into public.room_access (room_id, user_id) values (p_room_id, caller) on conflict do nothing;
  return json_build_object('room_id', p_room_id, 'is_private', true);
end;
$$;

create or replace function public.room_invite(p_room_id text)
returns json language plpgsql security definer set search_path = public as $$
declare
  inv watchium_private.room_invites;
begin
  if not exists (select 1 from public.rooms where room_id = p_room_id and is_private) then
    raise exception 'room % is public: anyone may join it, no invite needed (create a private one with join ROOM --private)', p_room_id using errcode = '22023';
  end if;
  if not exists (select 1 from public.room_access where room_id = p_room_id and user_id = auth.uid()::text) then
    raise exception 'room % is private and you are not a member: ask a member for an invite (watchium-tui invite %) and pass --invite CODE', p_room_id, p_room_id using errcode = '42501';
  end if;
  select * into inv from watchium_private.room_invites where room_id = p_room_id;
  return json_build_object('room_id', p_room_id, 'is_private', true, 'invite', watchium_private.invite_code(p_room_id, inv.salt));
end;
$$;

create or replace function public.rotate_invite(p_room_id text)
returns json language plpgsql security definer set search_path = public as $$
declare
  fresh_salt text := watchium_private.new_salt();
  code text;
begin
  if not exists (select 1 from public.rooms where room_id = p_room_id and is_private and owner_user_id = auth.uid()::text) then
    raise exception 'only the room''s owner can replace its invite' using errcode = '42501';
  end if;
  code := watchium_private.invite_code(p_room_id, fresh_salt);
  update watchium_private.room_invites set code_hash = watchium_private.code_hash(code), salt = fresh_salt, created_at = now()
  where room_id = p_room_id;
  return json_build_object('room_id', p_room_id, 'is_private', true, 'invite', code);
end;
$$;

-- The owner or the host removes a member: access, membership row, and a
-- system message; on Supabase the member's open channel lasts until it
-- rejoins or refreshes its token (Realtime checks policies at the join).
create or replace function public.kick_member(p_room_id text, p_user_id text)
returns json language plpgsql security definer set search_path = public as $$
declare
  caller text := auth.uid()::text;
  r public.rooms;
  removed boolean;
  name text;
begin
  select * into r from public.rooms where room_id = p_room_id;
  if not found or not r.is_private then
    raise exception 'room % is public: anyone may join it again, so there is nobody to remove', p_room_id using errcode = '22023';
  end if;
  if caller is null or (caller <> r.owner_user_id and caller is distinct from r.host_user_id) then
    raise exception 'only the room''s owner or host can remove a member' using errcode = '42501';
  end if;
  if p_user_id is null or p_user_id = r.owner_user_id then
    raise exception 'the room''s owner cannot be removed' using errcode = '42501';
  end if;
  select username into name from public.room_members where room_id = p_room_id and user_id = p_user_id;
  delete from public.room_access where room_id = p_room_id and user_id = p_user_id;
  removed := found;
  delete from public.room_members where room_id = p_room_id and user_id = p_user_id;
  if r.host_user_id = p_user_id then
    update public.rooms set host_user_id = r.owner_user_id, host_seen_at = now() where room_id = p_room_id;
  end if;
  insert into public.comments (room_id, user_id, username, content, is_system_message)
  values (p_room_id, caller, 'watchium', coalesce(name, p_user_id) || ' was removed from the room', true);
  return json_build_object('room_id', p_room_id, 'user_id', p_user_id, 'removed', removed);
end;
$$;

-- Host changes go through the database, never through a broadcast alone:
-- hand_over by the host; claim_host by a member when nobody hosts or the
-- host has been silent past the timeout.
create or replace function public.hand_over(p_room_id text, p_user_id text)
returns public.rooms language plpgsql security definer set search_path = public as $$
declare
  r public.rooms;
begin
  select * into r from public.rooms where room_id = p_room_id for update;
  if not found or r.host_user_id is distinct from auth.uid()::text then
    raise exception 'only the room''s host can hand the role over' using errcode = '42501';
  end if;
  if not exists (select 1 from public.room_members where room_id = p_room_id and user_id = p_user_id)
     or (r.is_private and not exists (select 1 from public.room_access where room_id = p_room_id and user_id = p_user_id)) then
    raise exception '% is not a member of room %', p_user_id, p_room_id using errcode = '42501';
  end if;
  update public.rooms set host_user_id = p_user_id, host_seen_at = now(), updated_at = now() where room_id = p_room_id returning * into r;
  return r;
end;
$$;

create or replace function public.claim_host(p_room_id text, p_silent_seconds double precision default 15)
returns public.rooms language plpgsql security definer set search_path = public as $$
declare
  caller text := auth.uid()::text;
  r public.rooms;
begin
  if caller is null then
    raise exception 'sign in first: hosting needs a user' using errcode = '42501';
  end if;
  if not public.can_enter_room(p_room_id) then
    raise exception 'room % is private and you are not a member', p_room_id using errcode = '42501';
  end if;
  select * into r from public.rooms where room_id = p_room_id for update;
  if not found then
    insert into public.rooms (room_id, host_user_id) values (p_room_id, caller) returning * into r;
    return r;
  end if;
  if r.host_user_id is not null and r.host_user_id <> caller
     and r.host_seen_at > now() - make_interval(secs => greatest(p_silent_seconds, 15)) then
    raise exception 'the room''s host is still here; ask them to hand over (/host NAME)' using errcode = '42501';
  end if;
  update public.rooms set host_user_id = caller, host_seen_at = now(), updated_at = now() where room_id = p_room_id returning * into r;
  return r;
end;
$$;

-- The host proves it is still here (every few seconds while hosting).
create or replace function public.host_alive(p_room_id text)
returns void language sql security definer set search_path = public as $$
  update public.rooms set host_seen_at = now() where room_id = p_room_id and host_user_id = auth.uid()::text
$$;

revoke all on function public.create_private_room(text), public.join_room(text, text), public.room_invite(text),
  public.rotate_invite(text), public.kick_member(text, text), public.hand_over(text, text),
  public.claim_host(text, double precision), public.host_alive(text), public.can_enter_room(text) from public;
grant execute on function public.create_private_room(text), public.join_room(text, text), public.room_invite(text),
  public.rotate_invite(text), public.kick_member(text, text), public.hand_over(text, text),
  public.claim_host(text, double precision), public.host_alive(text), public.can_enter_room(text) to authenticated;

-- Tables: a private room's rows are its members' only.
drop policy if exists rooms_select on public.rooms;
create policy rooms_select on public.rooms for select to authenticated
  using (public.can_enter_room(room_id) and (public.is_room_member(room_id) or host_user_id = auth.uid()::text
         or exists (select 1 from public.room_access a where a.room_id = rooms.room_id and a.user_id = auth.uid()::text)));
drop policy if exists rooms_insert on public.rooms;
create policy rooms_insert on public.rooms for insert to authenticated
  with check (host_user_id = auth.uid()::text and not is_private and owner_user_id is null);
drop policy if exists rooms_update on public.rooms;
create policy rooms_update on public.rooms for update to authenticated
  using (host_user_id = auth.uid()::text)
  with check (host_user_id = auth.uid()::text);
-- Who may enter, and who hosts, change only through the functions above.
revoke insert, update on public.rooms from authenticated;
grant insert (room_id, host_user_id, current_playback_time, is_playing, media_filename, media_duration, media_size, updated_at),
  update (current_playback_time, is_playing, media_filename, media_duration, media_size, updated_at)
  on public.rooms to authenticated;

drop policy if exists members_select on public.room_members;
create policy members_select on public.room_members for select to authenticated
  using (public.is_room_member(room_id) and public.can_enter_room(room_id));
drop policy if exists members_insert on public.room_members;
create policy members_insert on public.room_members for insert to authenticated
  with check (user_id = auth.uid()::text and public.can_enter_room(room_id));
drop policy if exists members_update on public.room_members;
create policy members_update on public.room_members for update to authenticated
  using (user_id = auth.uid()::text) with check (user_id = auth.uid()::text and public.can_enter_room(room_id));

drop policy if exists comments_select on public.comments;
create policy comments_select on public.comments for select to authenticated
  using (public.is_room_member(room_id) and public.can_enter_room(room_id));
drop policy if exists comments_insert on public.comments;
create policy comments_insert on public.comments for insert to authenticated
  with check (user_id = auth.uid()::text and public.is_room_member(room_id) and public.can_enter_room(room_id) and not is_system_message);

-- sync_control: also members only, and it keeps the host's liveness.
create or replace function public.sync_control(p_room_id text, p_action text, p_current_time double precision)
returns public.rooms
language plpgsql
security definer
set search_path = public
as $$
declare
  caller text := auth.uid()::text;
  r public.rooms;
begin
  if caller is null then
    raise exception 'sign in first: sync control needs a user' using errcode = '42501';
  end if;
  if p_action not in ('play', 'pause', 'seek') then
    raise exception 'action must be play, pause or seek, not %', p_action using errcode = '22023';
  end if;
  if p_current_time is null or p_current_time < 0 or p_current_time = 'NaN'::float8
     or p_current_time = 'Infinity'::float8 then
    raise exception 'current_time must be a finite, non-negative number of seconds' using errcode = '22023';
  end if;
  if not public.can_enter_room(p_room_id) then
    raise exception 'room % is private and you are not a member', p_room_id using errcode = '42501';
  end if;
  select * into r from public.rooms where room_id = p_room_id for update;
  if not found then
    insert into public.rooms (room_id, host_user_id, current_playback_time, is_playing)
    values (p_room_id, caller, p_current_time, p_action = 'play')
    returning * into r;
    return r;
  end if;
  if r.host_user_id is not null and r.host_user_id <> caller then
    raise exception 'only the room''s host can control playback' using errcode = '42501';
  end if;
  update public.rooms set
    host_user_id = caller,
    current_playback_time = p_current_time,
    is_playing = case p_action when 'play' then true when 'pause' then false else is_playing end,
    host_seen_at = now(),
    updated_at = now()
  where room_id = p_room_id
  returning * into r;
  return r;
end;
$$;

-- Realtime: private channels room:{id} only for the room's members
-- (Supabase checks these policies when a client joins a private channel).
do $$
begin
  if to_regclass('realtime.messages') is not null then
    execute 'drop policy if exists watchium_room_read on realtime.messages';
    execute $p$create policy watchium_room_read on realtime.messages for select to authenticated
      using (realtime.topic() like 'room:%' and public.can_enter_room(substr(realtime.topic(), 6)))$p$;
    execute 'drop policy if exists watchium_room_write on realtime.messages';
    execute $p$create policy watchium_room_write on realtime.messages for insert to authenticated
      with check (realtime.topic() like 'room:%' and public.can_enter_room(substr(realtime.topic(), 6)))$p$;
  end if;
end $$;
