package ui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/watchium/watchium-tui/room"
)

// submit acts on the input line. Lines that cannot be carried out stay in
// the input so the person can fix them; the reason goes to the chat.
func (r Root) submit() (tea.Model, tea.Cmd) {
	cmd, err := parseCommand(r.input.Value())
	if err != nil {
		r.errorLine(err.Error())
		return r, nil
	}
	switch cmd.kind {
	case cmdNone:
		r.input.Reset()
		return r, nil
	case cmdSay:
		if n := len(cmd.text); n > room.MaxCommentLength {
			r.errorLine(fmt.Sprintf("message too long (%d bytes, at most %d); shorten it and send again", n, room.MaxCommentLength))
			return r, nil
		}
		r.input.Reset()
		return r, sayCmd(r.ctrl, cmd.text)
	case cmdHelp:
		r.input.Reset()
		for _, l := range commandHelp {
			r.systemLine(l)
		}
		return r, nil
	case cmdQuit:
		r.input.Reset()
		return r, tea.Quit
	case cmdList:
		r.input.Reset()
		for _, l := range playlistLines(r.snap) {
			r.systemLine(l)
		}
		return r, nil
	case cmdAdd:
		// Anyone: the host adds, others propose (the room decides).
		r.input.Reset()
		what := cmd.text
		return r, playlistCmd(r.ctrl, "add "+sanitizeLine(what), func(ctx context.Context, c Controller) error { return c.Add(ctx, what) })
	case cmdSync:
		r.input.Reset()
		if h, ok := r.snap.Host(); r.hasSnap && ok && h.IsSelf {
			r.systemLine("you are the host: everyone else follows you")
			return r, nil
		}
		return r, resyncCmd(r.ctrl)
	case cmdNick:
		name := sanitizeLine(cmd.text)
		if name == "" {
			r.errorLine("usage: /nick NAME")
			return r, nil
		}
		r.input.Reset()
		return r, setNameCmd(r.ctrl, name)
	case cmdInvite:
		r.input.Reset()
		return r, inviteCmd(r.ctrl, cmd.text == "new")
	case cmdKick:
		mem, err := r.findMember(cmd.text, "kick")
		if err != nil {
			r.errorLine(err.Error())
			return r, nil
		}
		if mem.IsSelf {
			r.errorLine("you cannot remove yourself; /quit leaves the room")
			return r, nil
		}
		r.input.Reset()
		return r, kickCmd(r.ctrl, mem.UserID, displayName(mem))
	}

	// The rest steer playback or hosting, which only the host may do.
	// Refusing locally saves a round trip and says what to do instead.
	action := map[commandKind]string{cmdPlay: "play", cmdPause: "pause", cmdSeek: "seek", cmdHost: "hand over hosting", cmdWait: "change waiting",
		cmdNext: "change the episode", cmdPrev: "change the episode", cmdGoto: "change the episode", cmdRemove: "edit the playlist",
		cmdAccept: "accept proposals", cmdSpeed: "change the speed"}[cmd.kind]
	if h, ok := r.snap.Host(); r.hasSnap && ok && !h.IsSelf {
		r.input.Reset()
		r.errorLine(fmt.Sprintf("only the host (%s) can %s; /sync to follow, or ask them for /host", displayName(h), action))
		return r, nil
	}
	switch cmd.kind {
	case cmdPlay:
		r.input.Reset()
		return r, playCmd(r.ctrl)
	case cmdPause:
		r.input.Reset()
		return r, pauseCmd(r.ctrl)
	case cmdSeek:
		r.input.Reset()
		return r, seekCmd(r.ctrl, cmd.seconds, cmd.relative)
	case cmdWait:
		r.input.Reset()
		return r, setWaitCmd(r.ctrl, cmd.text == "on")
	case cmdNext:
		r.input.Reset()
		return r, playlistCmd(r.ctrl, "next", func(ctx context.Context, c Controller) error { return c.Next(ctx) })
	case cmdPrev:
		r.input.Reset()
		return r, playlistCmd(r.ctrl, "prev", func(ctx context.Context, c Controller) error { return c.Prev(ctx) })
	case cmdGoto, cmdRemove, cmdAccept:
		r.input.Reset()
		n, kind := cmd.n, cmd.kind
		return r, playlistCmd(r.ctrl, fmt.Sprintf("%s %d", kind, n), func(ctx context.Context, c Controller) error {
			switch kind {
			case cmdGoto:
				return c.Goto(ctx, n)
			case cmdRemove:
				return c.Remove(ctx, n)
			}
			return c.Accept(ctx, n)
		})
	case cmdSpeed:
		r.input.Reset()
		v := cmd.seconds
		return r, playlistCmd(r.ctrl, fmt.Sprintf("speed %g", v), func(ctx context.Context, c Controller) error { return c.SetSpeed(ctx, v) })
	case cmdHost:
		mem, err := r.resolveMember(cmd.text)
		if err != nil {
			r.errorLine(err.Error())
			return r, nil
		}
		r.input.Reset()
		return r, handOverCmd(r.ctrl, mem.UserID, displayName(mem))
	}
	return r, nil
}

// resolveMember finds who /host NAME means: findMember, online and not us.
func (r Root) resolveMember(name string) (room.Member, error) {
	m, err := r.findMember(name, "host")
	if err != nil {
		return m, err
	}
	switch {
	case m.IsSelf:
		return room.Member{}, fmt.Errorf("you are already the host")
	case !m.Online:
		return room.Member{}, fmt.Errorf("%s is offline; hand over to someone who is here", displayName(m))
	}
	return m, nil
}

// findMember finds who NAME means in the latest snapshot: an exact user id,
// else a case-insensitive name that must be unambiguous.
func (r Root) findMember(name, command string) (room.Member, error) {
	if !r.hasSnap {
		return room.Member{}, fmt.Errorf("the room has not loaded yet; try /%s again in a moment", command)
	}
	want := strings.TrimSpace(name)
	var found []room.Member
	for _, m := range r.snap.Members {
		if m.UserID == want {
			found = []room.Member{m}
			break
		}
		if strings.EqualFold(strings.TrimSpace(m.Username), want) || strings.EqualFold(displayName(m), want) {
			found = append(found, m)
		}
	}
	shown := sanitizeLine(want)
	switch {
	case len(found) == 0:
		var names []string
		for _, m := range r.snap.Members {
			names = append(names, displayName(m))
		}
		return room.Member{}, fmt.Errorf("nobody called %q is in the room (here: %s)", shown, strings.Join(names, ", "))
	case len(found) > 1:
		var ids []string
		for _, m := range found {
			ids = append(ids, sanitizeLine(m.UserID))
		}
		return room.Member{}, fmt.Errorf("more than one %q is here; use their id: /%s %s", shown, command, strings.Join(ids, " or /"+command+" "))
	}
	return found[0], nil
}

// handleDone reports a finished Controller call. Success is mostly silent
// because the room's own events show the effect.
func (r Root) handleDone(msg tea.Msg) (tea.Model, tea.Cmd) {
	fail := func(what string, err error) {
		r.errorLine(what + ": " + sanitizeLine(err.Error()))
	}
	switch msg := msg.(type) {
	case PlayDoneMsg:
		if msg.Err != nil {
			fail("couldn't play", msg.Err)
		}
	case PauseDoneMsg:
		if msg.Err != nil {
			fail("couldn't pause", msg.Err)
		}
	case SeekDoneMsg:
		if msg.Err != nil {
			if msg.Relative {
				fail(fmt.Sprintf("couldn't skip %+g s", msg.Seconds), msg.Err)
			} else {
				fail("couldn't seek to "+formatClock(msg.Seconds), msg.Err)
			}
		}
	case SayDoneMsg:
		if msg.Err != nil {
			r.sayFailed(msg)
		}
	case HandOverDoneMsg:
		if msg.Err != nil {
			fail("couldn't hand hosting to "+msg.Name, msg.Err)
		}
	case ResyncDoneMsg:
		if msg.Err != nil {
			fail("couldn't re-sync", msg.Err)
		} else {
			r.systemLine("following the host again")
		}
	case SetNameDoneMsg:
		if msg.Err != nil {
			fail("couldn't change your name", msg.Err)
		} else {
			r.systemLine("you are now " + msg.Name)
		}
	case InviteDoneMsg:
		switch {
		case msg.Err != nil && msg.Rotated:
			fail("couldn't replace the invite", msg.Err)
		case msg.Err != nil:
			fail("no invite", msg.Err)
		case msg.Rotated:
			r.systemLine("new invite code " + sanitizeLine(msg.Code) + " (the old one no longer works); friends join with --invite " + sanitizeLine(msg.Code))
		default:
			r.systemLine("invite code " + sanitizeLine(msg.Code) + "; friends join with --invite " + sanitizeLine(msg.Code) + " (watchium-tui invite ROOM prints the whole command)")
		}
	case KickDoneMsg:
		if msg.Err != nil {
			fail("couldn't remove "+msg.Name, msg.Err)
		} else {
			r.systemLine(msg.Name + " was removed from the room")
		}
	case PlaylistDoneMsg:
		if msg.Err != nil {
			fail("couldn't "+msg.What, msg.Err)
		}
	case SetWaitDoneMsg:
		switch {
		case msg.Err != nil:
			fail("couldn't change waiting", msg.Err)
		case msg.On:
			r.systemLine("after a seek, the room waits until everyone has landed")
		default:
			r.systemLine("after a seek, everyone plays on as soon as they land; slow ones catch up")
		}
	}
	return r, nil
}

// sayFailed makes sure an unsent message is never lost: it goes back into
// the input if that is empty, and otherwise is quoted in the error line
// rather than overwrite what the person has typed since.
func (r *Root) sayFailed(msg SayDoneMsg) {
	why := sanitizeLine(msg.Err.Error())
	if strings.TrimSpace(r.input.Value()) == "" {
		text := msg.Text
		if strings.HasPrefix(text, "/") {
			// Re-escape, or enter would run it as a command.
			text = "/" + text
		}
		r.input.SetValue(text)
		r.errorLine("message not sent: " + why + " — it is back in the input; press enter to retry")
		return
	}
	r.errorLine("message not sent: " + why + " — it was: " + msg.Text)
}

func (r *Root) systemLine(text string) {
	r.chat.Add(chatEntry{at: r.common.Now(), kind: entrySystem, text: text})
}

func (r *Root) errorLine(text string) {
	r.chat.Add(chatEntry{at: r.common.Now(), kind: entryError, text: text})
}

// playlistLines is what /list prints: every entry, the playing one marked,
// and the proposals waiting for the host.
func playlistLines(s room.Snapshot) []string {
	p := s.Playlist
	if len(p.Entries) == 0 {
		return []string{"the playlist is empty: /add FILE or URL"}
	}
	out := []string{fmt.Sprintf("playlist (%d):", len(p.Entries))}
	for i, e := range p.Entries {
		mark := "  "
		if i == p.Current {
			mark = "▶ "
		}
		line := fmt.Sprintf("%s%d. %s", mark, i+1, sanitizeLine(e.Name))
		if e.Duration > 0 {
			line += " (" + formatClock(e.Duration) + ")"
		}
		var missing []string
		for _, m := range s.Members {
			if m.Missing != "" && m.Missing == e.Name {
				missing = append(missing, displayName(m))
			}
		}
		if len(missing) > 0 {
			line += " — missing for " + strings.Join(missing, ", ")
		}
		out = append(out, line)
	}
	for i, q := range s.Proposals {
		out = append(out, fmt.Sprintf("proposal %d from %s: %s (/accept %d)", i+1, sanitizeLine(q.Username), sanitizeLine(q.Entry.Name), i+1))
	}
	return out
}
