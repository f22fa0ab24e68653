package ui

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/watchium/watchium-tui/room"
)

// commandKind is what one line of input asks for.
type commandKind int

const (
	cmdNone   commandKind = iota // blank line: nothing to do
	cmdSay                       // plain chat text
	cmdPlay                      // /play
	cmdPause                     // /pause
	cmdSeek                      // /seek T
	cmdHost                      // /host NAME
	cmdSync                      // /sync
	cmdNick                      // /nick NAME
	cmdWait                      // /wait on|off
	cmdInvite                    // /invite [new]
	cmdKick                      // /kick NAME
	cmdHelp                      // /help
	cmdQuit                      // /quit
	cmdAdd                       // /add NAME|URL (the host adds, others propose)
	cmdList                      // /list
	cmdNext                      // /next
	cmdPrev                      // /prev
	cmdGoto                      // /goto N
	cmdRemove                    // /remove N
	cmdAccept                    // /accept [N]
	cmdSpeed                     // /speed X
)

func (k commandKind) String() string {
	switch k {
	case cmdNone:
		return "none"
	case cmdSay:
		return "say"
	case cmdPlay:
		return "play"
	case cmdPause:
		return "pause"
	case cmdSeek:
		return "seek"
	case cmdHost:
		return "host"
	case cmdSync:
		return "sync"
	case cmdNick:
		return "nick"
	case cmdWait:
		return "wait"
	case cmdInvite:
		return "invite"
	case cmdKick:
		return "kick"
	case cmdHelp:
		return "help"
	case cmdQuit:
		return "quit"
	case cmdAdd:
		return "add"
	case cmdList:
		return "list"
	case cmdNext:
		return "next"
	case cmdPrev:
		return "prev"
	case cmdGoto:
		return "goto"
	case cmdRemove:
		return "remove"
	case cmdAccept:
		return "accept"
	case cmdSpeed:
		return "speed"
	}
	return fmt.Sprintf("commandKind(%d)", int(k))
}

// command is a parsed input line.
type command struct {
	kind commandKind
	// text is the chat message for cmdSay and the name for cmdHost/cmdNick.
	text string
	// seconds is the target (absolute) or delta (relative) of cmdSeek.
	seconds  float64
	relative bool
	// n is the entry of /goto, /remove, /accept (1-based; 0: none given).
	n int
}

// commandHelp is what /help prints, one system line per entry.
var commandHelp = []string{
	"/play · /pause — resume or pause for everyone (host)",
	"/seek 12:30 | 1:02:03 | 90 — jump there (host)",
	"/seek +10 | -5 — skip forward or back (host)",
	"/host NAME — hand hosting to NAME (host)",
	"/sync — follow the host again after pausing or seeking yourself",
	"/nick NAME — change your name",
	"/invite — show this private room's invite code · /invite new — replace it (owner)",
	"/kick NAME — remove NAME from this private room (owner or host)",
	"/wait on|off — after a seek, wait until everyone has landed before playing on (host; on by default)",
	"/add FILE|URL — add to the playlist (host), or propose it to the host",
	"/list — show the playlist · /accept [N] — add a proposal (host)",
	"/next · /prev · /goto N — play another entry, for everyone (host) · /remove N (host)",
	"/speed 1.25 — everyone's playback speed (host; /speed 1 is normal)",
	"/quit — leave the room",
	"//text — send a message that starts with /",
	"keys: tab focus · pgup/pgdn scroll · esc clear · ctrl+c quit",
}

const seekUsage = "usage: /seek 12:30, 1:02:03, 90, +10 or -5"

// parseCommand turns one input line into a command. It is pure: whether the
// person may run the command (host-only) is decided by the caller, which
// knows the room.
func parseCommand(line string) (command, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return command{kind: cmdNone}, nil
	}
	if !strings.HasPrefix(line, "/") {
		return command{kind: cmdSay, text: line}, nil
	}
	// "//" escapes a message that really starts with a slash.
	if strings.HasPrefix(line, "//") {
		return command{kind: cmdSay, text: line[1:]}, nil
	}

	name, arg, _ := strings.Cut(line[1:], " ")
	name = strings.ToLower(name)
	arg = strings.TrimSpace(arg)

	noArg := func(k commandKind) (command, error) {
		if arg != "" {
			return command{}, fmt.Errorf("/%s takes no arguments", name)
		}
		return command{kind: k}, nil
	}
	switch name {
	case "play":
		return noArg(cmdPlay)
	case "pause":
		return noArg(cmdPause)
	case "sync":
		return noArg(cmdSync)
	case "help":
		return noArg(cmdHelp)
	case "quit":
		return noArg(cmdQuit)
	case "seek":
		if arg == "" {
			return command{}, errors.New(seekUsage)
		}
		secs, rel, err := parseTime(arg)
		if err != nil {
			return command{}, err
		}
		return command{kind: cmdSeek, seconds: secs, relative: rel}, nil
	case "host":
		if arg == "" {
			return command{}, errors.New("usage: /host NAME — hand hosting to someone in the room")
		}
		return command{kind: cmdHost, text: arg}, nil
	case "nick":
		if arg == "" {
			return command{}, errors.New("usage: /nick NAME")
		}
		return command{kind: cmdNick, text: arg}, nil
	case "invite":
		switch strings.ToLower(arg) {
		case "":
			return command{kind: cmdInvite}, nil
		case "new":
			return command{kind: cmdInvite, text: "new"}, nil
		}
		return command{}, errors.New("usage: /invite (show the code) or /invite new (replace it)")
	case "kick":
		if arg == "" {
			return command{}, errors.New("usage: /kick NAME — remove someone from this private room")
		}
		return command{kind: cmdKick, text: arg}, nil
	case "wait":
		switch strings.ToLower(arg) {
		case "on", "off":
			return command{kind: cmdWait, text: strings.ToLower(arg)}, nil
		}
		return command{}, errors.New("usage: /wait on|off — whether a seek waits for everyone to land")
	case "add":
		if arg == "" {
			return command{}, errors.New("usage: /add FILE or /add URL — a file name found in everyone's media folders")
		}
		return command{kind: cmdAdd, text: arg}, nil
	case "list", "playlist":
		return noArg(cmdList)
	case "next":
		return noArg(cmdNext)
	case "prev":
		return noArg(cmdPrev)
	case "goto", "remove", "accept":
		kind := map[string]commandKind{"goto": cmdGoto, "remove": cmdRemove, "accept": cmdAccept}[name]
		if arg == "" && kind == cmdAccept {
			return command{kind: kind}, nil
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 {
			return command{}, fmt.Errorf("usage: /%s N — N is the entry's number in /list", name)
		}
		return command{kind: kind, n: n}, nil
	case "speed":
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || math.IsNaN(v) || v < room.MinSpeed || v > room.MaxSpeed {
			return command{}, fmt.Errorf("usage: /speed X — X from %g to %g, 1 is normal", room.MinSpeed, room.MaxSpeed)
		}
		return command{kind: cmdSpeed, seconds: v}, nil
	case "":
		return command{}, errors.New(`empty command — type /help for the list, or "//" to send a slash`)
	}
	return command{}, fmt.Errorf("unknown command /%s — type /help for the list", sanitizeLine(name))
}

// parseTime reads a seek target: "90", "12:30", "1:02:03" (fractional
// seconds allowed in the last field) as an absolute position, or the same
// forms prefixed with + or - as a delta.
func parseTime(s string) (seconds float64, relative bool, err error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (float64, bool, error) {
		return 0, false, fmt.Errorf("bad time %q: %s (%s)", sanitizeLine(s), why, strings.TrimPrefix(seekUsage, "usage: /seek "))
	}
	body := s
	sign := 1.0
	if strings.HasPrefix(body, "+") || strings.HasPrefix(body, "-") {
		relative = true
		if body[0] == '-' {
			sign = -1
		}
		body = body[1:]
	}
	if body == "" {
		return bad("no number")
	}
	fields := strings.Split(body, ":")
	if len(fields) > 3 {
		return bad("too many ':'")
	}
	var total float64
	for i, f := range fields {
		last := i == len(fields)-1
		v, ok := parseField(f, last)
		if !ok {
			return bad("not a number")
		}
		// Minutes and seconds after a ':' are clock digits, so 1:75 is a typo
		// rather than 2:15; the leading field may be any size (90:00 is fine).
		if i > 0 && v >= 60 {
			return bad("minutes and seconds must be below 60")
		}
		total = total*60 + v
	}
	if math.IsInf(total, 0) || math.IsNaN(total) {
		return bad("out of range")
	}
	return sign * total, relative, nil
}

// parseField accepts digits, and in the last field one decimal point, so
// strconv's extras (exponents, hex, "inf", "nan", signs) never get through.
func parseField(f string, last bool) (float64, bool) {
	if f == "" || len(f) > 12 {
		return 0, false
	}
	dot := false
	digits := 0
	for _, r := range f {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.' && last && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f, 64)
	return v, err == nil
}

// formatClock renders a position as mm:ss, or h:mm:ss from an hour up.
func formatClock(sec float64) string {
	if math.IsNaN(sec) || math.IsInf(sec, 0) {
		return "--:--"
	}
	neg := sec < 0
	total := int64(math.Floor(math.Abs(sec)))
	h, m, s := total/3600, total/60%60, total%60
	out := fmt.Sprintf("%02d:%02d", m, s)
	if h > 0 {
		out = fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// formatOffset renders a sync offset: milliseconds while small, seconds with
// one decimal once it is clearly wrong, a clock beyond a minute.
func formatOffset(ms float64) string {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return "?"
	}
	sign := "+"
	if ms < 0 {
		sign = "-"
	}
	a := math.Abs(ms)
	switch {
	case a < 0.5:
		return "0 ms"
	case a < 999.5:
		return fmt.Sprintf("%s%.0f ms", sign, a)
	case a < 59_950:
		return fmt.Sprintf("%s%.1f s", sign, a/1000)
	default:
		return sign + formatClock(math.Round(a/1000))
	}
}
