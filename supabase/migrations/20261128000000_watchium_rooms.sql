-- Watchium: rooms, members and chat, with row-level security, realtime,
-- and host-only playback control. The embedded server (watchium-tui serve)
-- keeps the same tables in SQLite; this is the schema for a Supabase
-- project. User ids are the Supabase auth user ids (auth.uid()).

create table if not exists public.rooms (
  room_id text primary key,
  host_user_id text,
  current_playback_time double precision not null default 0
    check (current_playback_time >= 0 and current_playback_time < 1e9),
  is_playing boolean not null default false,
  media_filename text,
  media_duration double precision,
  media_size bigint,
  updated_at timestamptz not null default now()
);

create table if not exists public.room_members (
  room_id text not null,
  user_id text not null,
  username text not null,
  avatar_url text,
  joined_at timestamptz not null default now(),
  last_seen timestamptz not null default now(),
  primary key (room_id, user_id)
);

create table if not exists public.comments (
  id uuid primary key default gen_random_uuid(),
  room_id text not null,
  user_id text not null,
  username text not null,
  content text not null check (char_length(content) between 1 and 4000),
  created_at timestamptz not null default now(),
  is_system_message boolean not null default false
);

create index if not exists comments_room_created on public.comments (room_id, created_at);

-- Is the caller a member of the room? security definer so the policies
-- that use it do not recurse into room_members' own policy.
create or replace function public.is_room_member(p_room_id text)
returns boolean
language sql
stable
security definer
set search_path = public
as $$
  select exists (
    select 1 from public.room_members m
    where m.room_id = p_room_id and m.user_id = auth.uid()::text
  );
$$;

alter table public.rooms enable row level security;
alter table public.room_members enable row level security;
alter table public.comments enable row level security;

-- Members read their room; only the host updates it; whoever creates a
-- room hosts it.
drop policy if exists rooms_select on public.rooms;
create policy rooms_select on public.rooms for select to authenticated
  using (public.is_room_member(room_id) or host_user_id = auth.uid()::text);
drop policy if exists rooms_insert on public.rooms;
create policy rooms_insert on public.rooms for insert to authenticated
  with check (host_user_id = auth.uid()::text);
drop policy if exists rooms_update on public.rooms;
create policy rooms_update on public.rooms for update to authenticated
  using (host_user_id = auth.uid()::text)
  with check (true);

-- Members see each other; everyone joins and leaves only as themselves.
drop policy if exists members_select on public.room_members;
create policy members_select on public.room_members for select to authenticated
  using (public.is_room_member(room_id));
drop policy if exists members_insert on public.room_members;
create policy members_insert on public.room_members for insert to authenticated
  with check (user_id = auth.uid()::text);
drop policy if exists members_update on public.room_members;
create policy members_update on public.room_members for update to authenticated
  using (user_id = auth.uid()::text) with check (user_id = auth.uid()::text);
drop policy if exists members_delete on public.room_members;
create policy members_delete on public.room_members for delete to authenticated
  using (user_id = auth.uid()::text);

-- Members read their room's chat and post as themselves.
drop policy if exists comments_select on public.comments;
create policy comments_select on public.comments for select to authenticated
  using (public.is_room_member(room_id));
drop policy if exists comments_insert on public.comments;
create policy comments_insert on public.comments for insert to authenticated
  with check (user_id = auth.uid()::text and public.is_room_member(room_id) and not is_system_message);

grant select, insert, update, delete on public.rooms, public.room_members, public.comments to authenticated;

-- Host control, as the edge function calls it: only the room's host may
-- play, pause or seek; the first caller of a room that has no host takes it.
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
    updated_at = now()
  where room_id = p_room_id
  returning * into r;
  return r;
end;
$$;

revoke all on function public.sync_control(text, text, double precision) from public;
grant execute on function public.sync_control(text, text, double precision) to authenticated;

-- Stream changes to subscribers (Supabase creates the publication; a plain
-- PostgreSQL used for tests does not have it).
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end $$;
alter publication supabase_realtime add table public.rooms, public.room_members, public.comments;
alter table public.rooms replica identity full;
alter table public.room_members replica identity full;
