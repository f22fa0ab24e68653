package room

import (
	"crypto/ed25519"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// state is everything Run owns.
type state struct {
	selfID    string
	username  string
	joinedAt  float64
	hostID    string
	hostSince float64
	// storedHost is the host the server's stored room names; it is how a
	// web host, which claims the role through sync/control, is known.
	storedHost string
	// hostKey is the public key the database holds for hostID; while it is
	// known, only events it verifies are followed.
	hostKey    ed25519.PublicKey
	aliveTicks int // anchor ticks while hosting, for host_alive
	// lastNewHost is who the last new_host event named.
	lastNewHost string
	claimed     bool   // we took the role by claim, not by hand-over
	epoch       string // ours, while we host
	seq         uint64
	members     map[string]*memberInfo
	synced      bool // first presence sync seen
	joined      bool // the channel is subscribed (ephemeral events flow)
	media       MediaIdentity
	conn        ConnState
	rejoin      rejoinState
	gone        bool         // our mpv died
	removed     bool         // a member_removed named us (kicked)
	tracked     presenceMeta // what we last tracked, and when
	trackedAt   time.Time

	// following
	anchor    *anchor
	lastEpoch string
	lastSeq   uint64
	detached  bool
	clock     *ClockSync
	tracker   Tracker
	ctrl      *DriftController
	seekCost  seekCost  // how long our seeks take on this file
	hold      *holdPlan // parked ahead of the host, waiting for its clock
	holdGen   int
	busy      int // player jobs queued or running
	stats     SyncStats
	// gate: host claims waiting for the database (hostgate.go).
	gate hostGate
	// keyReread: the host's key read again after a signature failed.
	keyReread keyReread
	// keyPending: the host's key is being read for the first time;
	// keyWait holds its events until then.
	keyPending bool
	keyWait    []realtime.Broadcast
	// unsignedSeen are unsigned host events counted as Unverified, by
	// epoch and seq: if the signed original comes after the server's
	// unsigned copy, the copy is uncounted.
	unsignedSeen map[string]bool

	// hosting: wait for everyone
	waitForAll bool
	round      *waitRound
	roundN     int
	roundGen   int

	// timer generations
	seekGen, presenceGen, hostGoneGen, unpauseGen, electGen, roomStateGen int
	lastTrack                                                             time.Time
	trackQueued                                                           bool
	pendingSeek                                                           *PlaybackPayload
	mediaWarned                                                           string

	// the shared playlist
	playlist    Playlist
	proposals   []Proposal // to the host, pending
	missing     string     // the current entry, which we do not have
	loading     string     // the entry our player is loading
	switchUntil time.Time  // our player's own events are the file switch's until then
	ended       bool       // our player reached the end of its file
	// playlistStored: stored once after a control created the room row.
	playlistStored bool
}

func (s *state) init(cfg Config) {
	s.selfID = cfg.UserID
	s.username = cfg.Username
	s.members = map[string]*memberInfo{}
	s.clock = NewClockSync(8)
	s.ctrl = DefaultDriftController()
	s.waitForAll = !cfg.NoWait
	s.playlist.Current = -1
}

func (s *state) isHost() bool { return s.hostID != "" && s.hostID == s.selfID }
