-- Watchium: kick_member tells the room. After it removes the member (access,
-- row, system message: as in 20261201000000_watchium_trust.sql), it
-- broadcasts member_removed on the room's private channel room:{id} through
-- Realtime's realtime.send(payload jsonb, event text, topic text, private
-- boolean), so every client, the removed one included, shows who removed
-- whom. The payload is the spec's envelope {type, payload, room_id,
-- timestamp} with the inner fields repeated beside it, as our other events
-- go out; member_removed is additive (spec clients ignore unknown events).
-- A database without realtime.send (Realtime's schema not installed, or an
-- older Realtime) still kicks; only the notice is not sent.
create or replace function public.kick_member(p_room_id text, p_user_id text)
returns json language plpgsql security definer set search_path = public as $$
declare
  caller text := auth.uid()::text;
  r public.rooms;
  removed boolean;
  name text;
  by_name text;
  inner_payload jsonb;
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
  select username into by_name from public.room_members where room_id = p_room_id and user_id = caller;
  delete from public.room_access where room_id = p_room_id and user_id = p_user_id;
  removed := found;
  delete from public.room_members where room_id = p_room_id and user_id = p_user_id;
  if r.host_user_id = p_user_id then
    update public.rooms set host_user_id = r.owner_user_id, host_seen_at = now() where room_id = p_room_id;
  end if;
  insert into public.comments (room_id, user_id, username, content, is_system_message)
  values (p_room_id, caller, 'watchium', coalesce(name, p_user_id) || ' was removed from the room', true);
  if to_regprocedure('realtime.send(jsonb,text,text,boolean)') is not null then
    inner_payload := jsonb_build_object('user_id', p_user_id, 'username', coalesce(name, p_user_id),
      'by', caller, 'by_username', coalesce(by_name, ''));
    perform realtime.send(
      inner_payload || jsonb_build_object('type', 'member_removed', 'payload', inner_payload, 'room_id', p_room_id,
        'timestamp', floor(extract(epoch from clock_timestamp()) * 1000)::bigint),
      'member_removed', 'room:' || p_room_id, true);
  end if;
  return json_build_object('room_id', p_room_id, 'user_id', p_user_id, 'removed', removed);
end;
$$;

revoke all on function public.kick_member(text, text) from public;
grant execute on function public.kick_member(text, text) to authenticated;
