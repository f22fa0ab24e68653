-- Watchium: the room's shared playlist ({"entries":[{"name","size","duration"}],
-- "current":n} as JSON text), on the room row so the row's row-level
-- security applies: members read it, only the host updates it.
alter table public.rooms add column if not exists playlist text
  check (playlist is null or length(playlist) <= 600000);

-- The trust migration grants updates on named columns only; the host may
-- also write the playlist (the rooms update policy still holds it to the
-- host).
grant update (playlist) on public.rooms to authenticated;
