// Package ui is Watchium's terminal front end: the room screen a person
// watches alongside their own mpv. It draws the members (who hosts, who is in
// sync), the chat and a status bar from the room package's snapshots, and
// turns what the person types into calls on a Controller.
//
// Root is the only tea.Model. Room state arrives as room.StateChanged,
// room.ChatReceived and room.Notice messages that cmd/watchium-tui forwards
// with p.Send; every Controller call runs inside a tea.Cmd, because each may
// block on the network, and reports back as a *DoneMsg.
package ui
