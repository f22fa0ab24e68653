package ui

// Results of Controller calls. Each comes back to Update from the tea.Cmd
// that made the call; Err is nil on success. The room itself reports the
// effect (a new snapshot, a notice, our own chat line echoed back), so
// success usually needs no local output: only failures are drawn.

// PlayDoneMsg reports Controller.Play.
type PlayDoneMsg struct{ Err error }

// PauseDoneMsg reports Controller.Pause.
type PauseDoneMsg struct{ Err error }

// SeekDoneMsg reports Controller.Seek or, when Relative, SeekRelative.
type SeekDoneMsg struct {
	Seconds  float64
	Relative bool
	Err      error
}

// SayDoneMsg reports Controller.Say. Text is carried back so a failed
// message can be returned to the input instead of being lost.
type SayDoneMsg struct {
	Text string
	Err  error
}

// HandOverDoneMsg reports Controller.HandOver.
type HandOverDoneMsg struct {
	UserID, Name string
	Err          error
}

// ResyncDoneMsg reports Controller.Resync.
type ResyncDoneMsg struct{ Err error }

// SetNameDoneMsg reports Controller.SetName.
type SetNameDoneMsg struct {
	Name string
	Err  error
}

// tickMsg advances the projected positions in the status bar. gen ties it
// to the tick chain that armed it, so a stale chain dies instead of doubling.
type tickMsg struct {
	gen int
}

// SetWaitDoneMsg reports Controller.SetWaitForEveryone.
type SetWaitDoneMsg struct {
	On  bool
	Err error
}

// InviteDoneMsg reports Controller.Invite.
type InviteDoneMsg struct {
	Code    string
	Rotated bool
	Err     error
}

// KickDoneMsg reports Controller.Kick.
type KickDoneMsg struct {
	Name string
	Err  error
}

// PlaylistDoneMsg reports a playlist or speed command (/add, /next, /speed…).
type PlaylistDoneMsg struct {
	What string
	Err  error
}
