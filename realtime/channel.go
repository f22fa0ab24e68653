package realtime

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/phx"
)

type chanState int

const (
	chanClosed chanState = iota
	chanJoining
	chanJoined
	chanErrored
)

func (s chanState) String() string {
	switch s {
	case chanClosed:
		return "closed"
	case chanJoining:
		return "joining"
	case chanJoined:
		return "joined"
	case chanErrored:
		return "errored"
	}
	return fmt.Sprintf("chanState(%d)", int(s))
}

type pgBinding struct {
	filter PostgresChangesFilter
	id     json.RawMessage
	fn     func(PostgresChange)
}

// Channel is one topic on a Client: broadcast, presence and postgres_changes
// for `realtime:<name>`. All state lives under the client's lock; callbacks
// run on the client's callback goroutine, in arrival order.
type Channel struct {
	c     *Client
	name  string
	topic string
	cfg   ChannelConfig

	state        chanState
	joinRef      string
	subscribed   bool // Subscribe was called and Unsubscribe was not
	rejoinTry    int
	rejoinTimer  *time.Timer
	joinTimer    *time.Timer
	statusFns    []func(Status, error)
	broadcastFns map[string][]func(Broadcast)
	systemFns    []func(SystemMessage)
	pg           []*pgBinding
	presence     presenceState
	syncFns      []func()
	joinFns      []func(key string, current, joined []Presence)
	leaveFns     []func(key string, current, left []Presence)
	tracked      json.RawMessage
	outbox       []*push
	waiters      []chan error // Subscribe calls waiting for the first result
}

// Channel returns the channel for name (the topic is "realtime:"+name),
// creating it on first use; the same name returns the same channel.
func (c *Client) Channel(name string, cfg ChannelConfig) *Channel {
	topic := phx.TopicPrefix + name
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.channels[topic]; ok {
		return ch
	}
	ch := &Channel{c: c, name: name, topic: topic, cfg: cfg, broadcastFns: map[string][]func(Broadcast){}}
	c.channels[topic] = ch
	return ch
}

// Topic is the wire topic, "realtime:"+name.
func (ch *Channel) Topic() string { return ch.topic }

// OnBroadcast registers fn for broadcasts named event ("*" for all).
func (ch *Channel) OnBroadcast(event string, fn func(Broadcast)) *Channel {
	ch.c.mu.Lock()
	ch.broadcastFns[strings.ToLower(event)] = append(ch.broadcastFns[strings.ToLower(event)], fn)
	ch.c.mu.Unlock()
	return ch
}

// OnPresenceSync registers fn for presence sync (after every state or diff).
func (ch *Channel) OnPresenceSync(fn func()) *Channel {
	ch.c.mu.Lock()
	ch.syncFns = append(ch.syncFns, fn)
	ch.cfg.Presence.Enabled = true
	ch.c.mu.Unlock()
	return ch
}

// OnPresenceJoin registers fn for keys gaining metas.
func (ch *Channel) OnPresenceJoin(fn func(key string, current, joined []Presence)) *Channel {
	ch.c.mu.Lock()
	ch.joinFns = append(ch.joinFns, fn)
	ch.cfg.Presence.Enabled = true
	ch.c.mu.Unlock()
	return ch
}

// OnPresenceLeave registers fn for keys losing metas.
func (ch *Channel) OnPresenceLeave(fn func(key string, current, left []Presence)) *Channel {
	ch.c.mu.Lock()
	ch.leaveFns = append(ch.leaveFns, fn)
	ch.cfg.Presence.Enabled = true
	ch.c.mu.Unlock()
	return ch
}

// OnPostgresChanges registers fn for database changes matching filter. Call
// it before Subscribe: bindings travel in the join.
func (ch *Channel) OnPostgresChanges(filter PostgresChangesFilter, fn func(PostgresChange)) *Channel {
	if filter.Event == "" {
		filter.Event = "*"
	}
	ch.c.mu.Lock()
	ch.pg = append(ch.pg, &pgBinding{filter: filter, fn: fn})
	ch.c.mu.Unlock()
	return ch
}

// OnSystem registers fn for system messages.
func (ch *Channel) OnSystem(fn func(SystemMessage)) *Channel {
	ch.c.mu.Lock()
	ch.systemFns = append(ch.systemFns, fn)
	ch.c.mu.Unlock()
	return ch
}

// OnStatus registers fn for every subscription status change, including
// those of automatic rejoins.
func (ch *Channel) OnStatus(fn func(Status, error)) *Channel {
	ch.c.mu.Lock()
	ch.statusFns = append(ch.statusFns, fn)
	ch.c.mu.Unlock()
	return ch
}

// PresenceState returns the channel's presences by key, like realtime-js's
// presenceState().
func (ch *Channel) PresenceState() map[string][]Presence {
	ch.c.mu.Lock()
	defer ch.c.mu.Unlock()
	out := make(map[string][]Presence, len(ch.presence.state))
	for k, metas := range ch.presence.state {
		out[k] = append([]Presence(nil), metas...)
	}
	return out
}
