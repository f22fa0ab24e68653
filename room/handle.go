package room

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"time"

	"github.com/watchium/watchium-tui/internal/ids"
	"github.com/watchium/watchium-tui/realtime"
)

// onBroadcast handles one message on the room's channel. Anything malformed
// is logged and dropped; nothing from it reaches the player.
func (r *Room) onBroadcast(ctx context.Context, b realtime.Broadcast) {
	env, err := DecodeBroadcast(b)
	if err != nil {
		r.log.Warn("room: dropping malformed event", "err", err)
		return
	}
	s := &r.s
	if IsSpecType(env.Type) && !r.repeatedNewHost(env) {
		if env.RoomID == "" {
			env.RoomID = r.cfg.RoomID
		}
		// The server's sync/control copy of a host's play or pause is the
		// same event: shown once.
		if !r.dedupe.Seen(env) {
			r.emit(EventReceived{Envelope: env})
		}
	}
	switch env.Type {
	case TypePlay, TypePause, TypeSeek, typeAnchor:
		var p anchorPayload
		if err := json.Unmarshal(env.Payload, &p); err != nil {
			r.log.Warn("room: bad playback event", "type", env.Type, "err", err)
			return
		}
		if err := ValidTime(p.CurrentTime); err != nil {
			r.log.Warn("room: rejecting playback event", "type", env.Type, "err", err)
			return
		}
		if p.UserID == "" || p.UserID != s.hostID || s.isHost() {
			r.log.Debug("room: ignoring playback event from a non-host", "from", p.UserID, "host", s.hostID)
			return
		}
		if r.awaitingKey(b) {
			return
		}
		if err := acceptFromHost(s.hostKey, env); err != nil {
			r.badSignature(b, env, p.PlaybackPayload, err)
			return
		}
		r.verified(p.PlaybackPayload)
		playing := p.Playing
		switch env.Type {
		case TypePlay:
			playing = true
		case TypePause:
			playing = false
		case TypeSeek:
			name := p.Username
			if name == "" {
				name = r.nameOf(p.UserID)
			}
			r.notice("%s jumped to %s", name, ClockString(p.CurrentTime))
			if s.anchor != nil {
				playing = s.anchor.Playing
			}
			if p.Epoch != "" && p.Epoch == s.lastEpoch && p.Seq <= s.lastSeq {
				return // the anchor for this seek came first; the spec event is for others
			}
			if a := s.anchor; a != nil && a.Round != "" && a.Seeking && p.Epoch == a.Epoch {
				// The host landed and holds the room for a round we are in;
				// the round's start says when it plays. Taken as a timeline,
				// this would have the host playing on from its landing.
				return
			}
		}
		settled := env.Type == typeAnchor && p.Reason != TypeSeek && !p.Seeking || p.Epoch == ""
		r.onAnchor(p.PlaybackPayload, playing, p.Seeking, p.Round, env.Timestamp, settled)
	case TypeNewHost:
		var p NewHostPayload
		if err := json.Unmarshal(env.Payload, &p); err != nil || p.UserID == "" {
			r.log.Warn("room: bad new_host", "err", err)
			return
		}
		// While the host we follow is here, only it may name another (its
		// hand-over is signed); once it has gone, the server or the
		// successor announces, and where the database records hosts, the
		// room follows only whom it names (hostgate.go).
		if p.UserID != s.hostID && s.members[s.hostID].here() {
			key := s.hostKey
			if s.isHost() && s.storedHost == r.cfg.UserID {
				// The database names us: nobody else may hand our role
				// away (a web host claiming an unrecorded room through
				// sync/control still may).
				key = r.cfg.SigningKey.Public().(ed25519.PublicKey)
			}
			err := acceptFromHost(key, env)
			if err == nil && (key != nil || !r.gated()) {
				r.onNewHost(p)
				return
			}
			if r.gated() {
				// Not the host's signature: one read of the room row
				// decides (the server's own announcement, or a hand-over
				// from the host's other device, is recorded there first).
				r.proposeHost(p.UserID, wallMS(r.now()), true)
				return
			}
			s.stats.Unverified++
			r.log.Warn("room: ignoring a new_host the host did not sign", "names", p.UserID, "err", err)
			return
		}
		if r.gated() {
			r.proposeHost(p.UserID, wallMS(r.now()), false)
			return
		}
		r.onNewHost(p)
	case TypeNewComment:
		var c Comment
		if err := json.Unmarshal(env.Payload, &c); err != nil || c.Content == "" || c.UserID == "" {
			r.log.Warn("room: bad comment", "err", err)
			return
		}
		if c.ID == "" {
			// A web client that broadcasts a bare comment may leave the id to
			// the database; one derived from what it said keeps it shown once.
			c.ID = ids.FromContent(c.UserID, c.CreatedAt, c.Content)
		}
		if c.CreatedAt == "" {
			c.CreatedAt = time.UnixMilli(env.Timestamp).UTC().Format(time.RFC3339Nano)
		}
		c.Content = cutUTF8(c.Content, MaxCommentLength)
		r.deliverComment(c)
	case TypeHeartbeat:
		var p heartbeatExtra
		if err := json.Unmarshal(env.Payload, &p); err != nil || p.UserID == "" {
			return
		}
		if mi := s.members[p.UserID]; mi != nil {
			mi.meta.CurrentTime, mi.meta.InSync, mi.meta.IsPlaying = p.CurrentTime, p.IsSynced, p.IsPlaying
			mi.meta.OffsetMS, mi.meta.RTTMS, mi.meta.Detached = p.OffsetMS, p.RTTMS, p.Detached
			if p.PlayerState != "" {
				mi.meta.PlayerState, mi.meta.BufferPercent = p.PlayerState, p.BufferPercent
			}
			mi.meta.Missing = p.Missing
			mi.lastSeen = r.now()
			r.heard(p.UserID, mi, mi.lastSeen)
			if rd := s.round; rd != nil && rd.waiting[p.UserID] && r.lacksCurrent(mi) {
				delete(rd.waiting, p.UserID) // it has not got the file: nothing to wait for
				r.maybeStartRound()
			}
			r.publishSnapshot()
		}
	case typeProbe:
		var p probePayload
		if err := json.Unmarshal(env.Payload, &p); err != nil || !s.isHost() || p.To != r.cfg.UserID {
			return
		}
		p.T1 = wallMS(b.At)
		p.T2 = wallMS(r.now())
		r.postEphemeral(typeProbeReply, p)
	case typeProbeReply:
		var p probePayload
		if err := json.Unmarshal(env.Payload, &p); err != nil || p.From != r.cfg.UserID || p.To != s.hostID {
			return
		}
		if r.awaitingKey(b) {
			return
		}
		if err := acceptFromHost(s.hostKey, env); err != nil {
			// Perhaps signed on the host's other device: decided once its
			// key is read again, like its playback events.
			r.badSignature(b, env, PlaybackPayload{}, err)
			return
		}
		s.clock.Add(p.T0, p.T1, p.T2, wallMS(b.At), b.At)
	case typeReady:
		var p readyPayload
		if err := json.Unmarshal(env.Payload, &p); err == nil && s.isHost() {
			r.onReady(p)
		}
	case typeStateRequest:
		if s.isHost() {
			r.publishPlaylist(false)
			r.publishAnchor("state")
		}
	case typePlaylist:
		var p playlistPayload
		if err := json.Unmarshal(env.Payload, &p); err != nil {
			r.log.Warn("room: bad playlist", "err", err)
			return
		}
		r.onPlaylist(p)
	case typePropose:
		var p Proposal
		if err := json.Unmarshal(env.Payload, &p); err == nil {
			r.onProposal(p)
		}
	case TypeMemberRemoved:
		var p MemberRemovedPayload
		if err := json.Unmarshal(env.Payload, &p); err != nil || p.UserID == "" {
			r.log.Warn("room: bad member_removed", "err", err)
			return
		}
		r.onMemberRemoved(p)
	case TypeMemberJoined, TypeMemberLeft:
		// Presence is the source of truth for membership; these are for
		// spec clients and the event log.
	}
}

// repeatedNewHost is a new_host naming the same host as the last one: the
// server repeats a member's claim when it first records that host's
// control, and the event log shows each host change once.
func (r *Room) repeatedNewHost(env Envelope) bool {
	if env.Type != TypeNewHost {
		return false
	}
	var p NewHostPayload
	if json.Unmarshal(env.Payload, &p) != nil || p.UserID == "" {
		return false
	}
	if p.UserID == r.s.lastNewHost {
		return true
	}
	r.s.lastNewHost = p.UserID
	return false
}

func (r *Room) onNewHost(p NewHostPayload) {
	s := &r.s
	if p.UserID == s.hostID {
		return
	}
	if p.UserID == r.cfg.UserID {
		// Handed to us.
		r.setHost(r.cfg.UserID, wallMS(r.now()), true)
		r.notice("%s handed you the host role", r.nameOf(s.hostID))
		return
	}
	r.setHost(p.UserID, wallMS(r.now()), false)
}

func (r *Room) nameOf(id string) string {
	if mi := r.s.members[id]; mi != nil {
		return mi.meta.Username
	}
	if id == "" {
		return "nobody"
	}
	return id
}

// deliverComment shows a comment once, whichever path brought it. While
// missed comments are being fetched after a rejoin, live ones wait so that
// everything shows in order.
func (r *Room) deliverComment(c Comment) {
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	if r.chat.catchingUp {
		r.chat.held = append(r.chat.held, c)
		return
	}
	r.deliverLocked(c)
}

// deliverLocked shows c unless it was shown already (seenMu held).
func (r *Room) deliverLocked(c Comment) {
	if r.seenChat[c.ID] {
		return
	}
	r.seenChat[c.ID] = true
	r.chat.saw(c)
	r.emit(ChatReceived{Comment: c})
	if r.player != nil && !c.IsSystemMessage {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), mediaReadTimeout)
			defer cancel()
			if err := r.player.ShowText(ctx, c.Username+": "+c.Content, chatOSDFor); err != nil {
				// The chat pane has it; mpv's screen is a convenience.
				r.log.Debug("room: showing chat on mpv's screen", "err", err)
			}
		}()
	}
}

func (r *Room) onStatus(st realtime.Status, err error) {
	switch st {
	case realtime.StatusSubscribed:
		// (Re)joined: our presence is re-tracked by the client; ask the
		// host for the timeline now rather than at its next tick.
		r.s.joined = true
		r.onRejoin()
		r.requestState()
		if r.s.isHost() && r.player != nil {
			r.publishAnchor("state") // followers may have missed changes meanwhile
		}
		r.trackSoon()
	case realtime.StatusChannelError, realtime.StatusTimedOut:
		r.s.joined = false
		r.s.rejoin.lost = true
		r.log.Info("room: channel", "status", st, "err", err)
	case realtime.StatusClosed:
		r.s.joined = false
		r.notice("left the room channel")
	}
}

func (r *Room) onConn(ev realtime.ConnEvent) {
	c := ConnState{State: ev.State.String(), Attempt: ev.Attempt}
	if ev.Err != nil {
		c.Reason = ev.Err.Error()
	}
	if c != r.s.conn {
		r.emit(ConnectionChanged{ConnState: c, At: r.now()})
	}
	r.s.conn = c
	if ev.State != realtime.StateOpen {
		r.s.rejoin.lost = r.s.rejoin.lost || r.s.synced
	}
	r.publishSnapshot()
}

func (r *Room) announceJoin() {
	r.post(TypeMemberJoined, MemberPayload{UserID: r.cfg.UserID, Username: r.s.username, AvatarURL: r.cfg.AvatarURL})
	r.trackSoon()
}

func (r *Room) leave() {
	r.post(TypeMemberLeft, MemberPayload{UserID: r.cfg.UserID, Username: r.s.username})
	r.leaveStore()
}
