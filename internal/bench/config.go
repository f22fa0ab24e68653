package bench

import (
	"fmt"
	"time"
)

// Bounds on what one run may do.
const (
	MaxConns    = 5000            // connections per run
	MaxMessages = 100_000         // broadcasts per room
	MaxRunTime  = 5 * time.Minute // when ctx has no earlier deadline
	// PresencePeriod is how often each member re-tracks its presence when
	// FanoutConfig.Presence is set.
	PresencePeriod = 3 * time.Second
	drainTimeout   = 10 * time.Second // wait for stragglers after the last send
	dialParallel   = 32
)

// FanoutConfig describes one scenario.
type FanoutConfig struct {
	Rooms, Members int
	// Messages is the number of measured broadcasts per room.
	Messages int
	// Presence makes each member track its presence every PresencePeriod
	// (3 s), with a changed payload each time so every track fans out a
	// diff. The period is scaled down when the broadcast phase is shorter
	// than three periods, so every member still tracks about three times;
	// the tracks are spread evenly over the period, not fired together.
	Presence bool
	// Interval is the time between broadcasts in a room (open loop, as a
	// real sender). Zero means closed loop: the next broadcast leaves as
	// soon as every member has the previous one, which measures latency
	// without queueing. With the server's default limit of 100 events per
	// second per connection keep Interval ≥ 10 ms (20 ms leaves room for
	// presence), or the sender's channel is closed by the rate limit.
	Interval time.Duration
}

func (c FanoutConfig) String() string {
	s := fmt.Sprintf("%d room", c.Rooms)
	if c.Rooms != 1 {
		s += "s"
	}
	s += fmt.Sprintf(" × %d", c.Members)
	if c.Presence {
		s += " +presence"
	}
	return s
}

// Scenarios are the standard runs: one room of 10, 100 and 1000 members,
// and 100 rooms of 10 members that also track presence.
func Scenarios() []FanoutConfig {
	return []FanoutConfig{
		{Rooms: 1, Members: 10, Messages: 100, Interval: 20 * time.Millisecond},
		{Rooms: 1, Members: 100, Messages: 100, Interval: 20 * time.Millisecond},
		{Rooms: 1, Members: 1000, Messages: 100, Interval: 20 * time.Millisecond},
		{Rooms: 100, Members: 10, Messages: 50, Interval: 100 * time.Millisecond, Presence: true},
	}
}
