package room

import "time"

// MediaIdentity describes what a member is playing, so the room can warn when
// two people watch different files.
type MediaIdentity struct {
	Filename string  `json:"filename,omitempty"`
	Duration float64 `json:"duration,omitempty"`
	Size     int64   `json:"size,omitempty"`
}

// Member is one person in the room as this client sees them.
type Member struct {
	UserID    string
	Username  string
	AvatarURL string
	IsHost    bool
	IsSelf    bool
	Online    bool
	Position  float64 // seconds, as last reported (projected for the host)
	Playing   bool
	// InSync is the spec's rule: |host - member| <= 2 s, and the member has
	// not paused or seeked on their own.
	InSync bool
	// OffsetMS is the member's own measurement of (member - host) in ms.
	OffsetMS float64
	// Detached is true when the member paused or seeked their own mpv and is
	// no longer following the host until they re-sync.
	Detached bool
	// NotResponding is set once the member's heartbeats stopped (a dead
	// link, a stopped process), before the server noticed.
	NotResponding bool
	// PlayerState is ok, seeking, buffering, gone (its mpv died) or none
	// (chat only); empty for clients that do not say.
	PlayerState   string
	RTT           time.Duration
	Media         MediaIdentity
	MediaMismatch bool
	JoinedAt      time.Time
	// BufferPercent is how full a buffering member's cache is.
	BufferPercent int
	// Missing names the playlist entry the member does not have.
	Missing string
}

// ConnState is the transport's state as the UI shows it.
type ConnState struct {
	State   string // "connecting", "open", "reconnecting", "closed"
	Attempt int    // reconnect attempt, when reconnecting
	Reason  string // why it closed or is reconnecting
}

// Snapshot is the room as this client sees it at one moment; the UI draws
// from nothing else.
type Snapshot struct {
	RoomID       string
	Server       string
	SelfID       string
	HostID       string
	Members      []Member // host first, then in joining order
	Conn         ConnState
	SelfPosition float64
	HostPosition float64
	Playing      bool
	RTT          time.Duration
	// Sync counts this follower's corrections.
	Sync SyncStats
	// WaitingFor names whom the host holds the room for after a seek
	// (wait for everyone); empty when nobody is waited for.
	WaitingFor []string
	// Playlist is the room's shared playlist; Proposals are the members'
	// pending proposals (the host's client has them).
	Playlist  Playlist
	Proposals []Proposal
	// Speed is the room's playback speed (the host's; 1 is normal).
	Speed float64
	// Duration is the length of the host's file (0: unknown).
	Duration float64
	// Seeking: the host's timeline is heading for SeekTarget (its seek,
	// or a round waiting for everyone there).
	Seeking    bool
	SeekTarget float64
}

// Host returns the host member and whether there is one.
func (s Snapshot) Host() (Member, bool) {
	for _, m := range s.Members {
		if m.IsHost {
			return m, true
		}
	}
	return Member{}, false
}

// Self returns this client's own member entry.
func (s Snapshot) Self() (Member, bool) {
	for _, m := range s.Members {
		if m.IsSelf {
			return m, true
		}
	}
	return Member{}, false
}

// Messages a Room sends to its consumer (the UI or the headless printer).

// StateChanged carries a new snapshot of the room.
type StateChanged struct{ Snapshot Snapshot }

// ChatReceived carries one chat message (including our own, once the server
// has it).
type ChatReceived struct{ Comment Comment }

// Notice is a system line for the chat pane: joins, leaves, host changes, the
// host's seeks, errors the person should see.
type Notice struct {
	Text string
	At   time.Time
}

// EventReceived carries every spec event seen on the channel, for the
// headless JSON printer and `tail`.
type EventReceived struct{ Envelope Envelope }
