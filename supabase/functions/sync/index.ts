// POST /functions/v1/sync/control — the spec's host control endpoint.
// Body: {room_id, user_id, action: "play"|"pause"|"seek", current_time}
// (extra fields such as seq, epoch, speed, at_ms are passed through to the
// broadcast so watchium followers can order events).
// The caller's JWT decides who they are: sync_control() checks they host the
// room and updates it; then the event is broadcast on room:{room_id}.
import { createClient } from "npm:@supabase/supabase-js@2";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

Deno.serve(async (req) => {
  const url = new URL(req.url);
  if (req.method !== "POST" || !url.pathname.endsWith("/control")) {
    return json(404, { error: "POST /functions/v1/sync/control" });
  }
  let body: Record<string, unknown>;
  try {
    body = await req.json();
  } catch {
    return json(400, { error: "body must be JSON {room_id, user_id, action, current_time}" });
  }
  const { room_id, action, current_time } = body as { room_id?: string; action?: string; current_time?: number };
  if (!room_id || !["play", "pause", "seek"].includes(String(action)) ||
      typeof current_time !== "number" || !Number.isFinite(current_time) || current_time < 0) {
    return json(400, { error: "room_id, action (play|pause|seek) and a finite current_time >= 0 are required" });
  }
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!, {
    global: { headers: { Authorization: req.headers.get("Authorization") ?? "" } },
  });
  const { data: room, error } = await supabase.rpc("sync_control", {
    p_room_id: room_id, p_action: action, p_current_time: current_time,
  });
  if (error) {
    return json(error.code === "42501" ? 403 : 400, { error: error.message });
  }
  const { data: user } = await supabase.auth.getUser();
  const payload = { ...body, user_id: user.user?.id ?? body.user_id, current_time };
  delete (payload as Record<string, unknown>).room_id;
  delete (payload as Record<string, unknown>).action;
  const channel = supabase.channel(`room:${room_id}`);
  await channel.httpSend(String(action), { type: action, payload, room_id, timestamp: Date.now() });
  return json(200, { success: true, room });
});
