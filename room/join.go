package room

import (
	"context"
	"fmt"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// ChannelName is the spec's channel for a room.
func ChannelName(roomID string) string { return "room:" + roomID }

// Join subscribes to the room's channel on client, wires it to a new Room
// and returns it; call Run to take part. The caller owns client.
func Join(ctx context.Context, client *realtime.Client, cfg Config, p Player) (*Room, error) {
	ch := client.Channel(ChannelName(cfg.RoomID), realtime.ChannelConfig{
		// ack: a chat message counts as sent only once the server has it.
		// self off: our own events are applied locally, not echoed.
		Broadcast: realtime.BroadcastConfig{Ack: true},
		Presence:  realtime.PresenceConfig{Key: cfg.UserID, Enabled: true},
		Private:   cfg.Private,
	})
	if cfg.ServerRTT == nil {
		cfg.ServerRTT = client.RTT
	}
	r := New(cfg, ch, p)
	if cfg.Store != nil {
		ch.OnPostgresChanges(realtime.PostgresChangesFilter{
			Event: "INSERT", Schema: "public", Table: "comments", Filter: "room_id=eq." + cfg.RoomID,
		}, func(pc realtime.PostgresChange) { r.commentRow(pc.New) })
	}
	ch.OnBroadcast("*", r.HandleBroadcast)
	ch.OnPresenceSync(r.HandlePresenceSync)
	ch.OnStatus(r.HandleStatus)
	ch.OnSystem(r.HandleSystem)
	client.OnState(r.HandleConn)
	r.HandleConn(realtime.ConnEvent{State: client.State()}) // it may have opened before we listened
	if err := ch.Subscribe(ctx); err != nil {
		r.out.close() // Run will never start: release its event forwarder
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = ch.Unsubscribe(uctx)
		cancel()
		return nil, fmt.Errorf("joining room %q: %w", cfg.RoomID, err)
	}
	r.loadHistory()
	r.historyLoaded = true
	// A first round trip now rather than at the first 25 s heartbeat.
	go func() {
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = client.Ping(pctx)
	}()
	return r, nil
}
