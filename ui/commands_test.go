package ui

import (
	"math"
	"strings"
	"testing"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in       string
		want     float64
		relative bool
		wantErr  bool
	}{
		{in: "90", want: 90},
		{in: "0", want: 0},
		{in: "12:30", want: 750},
		{in: "00:05", want: 5},
		{in: "90:00", want: 5400}, // the leading field may exceed 59
		{in: "1:02:03", want: 3723},
		{in: "12:30.5", want: 750.5},
		{in: "2.25", want: 2.25},
		{in: " 12:30 ", want: 750},
		{in: "+10", want: 10, relative: true},
		{in: "-5", want: -5, relative: true},
		{in: "+1:30", want: 90, relative: true},
		{in: "-1:00:00", want: -3600, relative: true},
		{in: "-0", want: 0, relative: true},

		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "+", wantErr: true},
		{in: "-", wantErr: true},
		{in: "1:60", wantErr: true},
		{in: "1:60:00", wantErr: true},
		{in: "1:2:3:4", wantErr: true},
		{in: "12:", wantErr: true},
		{in: ":30", wantErr: true},
		{in: "1::2", wantErr: true},
		{in: "12:-3", wantErr: true},
		{in: "1.5:00", wantErr: true},
		{in: "1.2.3", wantErr: true},
		{in: ".", wantErr: true},
		{in: "1e3", wantErr: true},
		{in: "0x10", wantErr: true},
		{in: "inf", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "+-5", wantErr: true},
		{in: "10s", wantErr: true},
		{in: "1 30", wantErr: true},
		{in: "9999999999999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, rel, err := parseTime(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseTime(%q) = %v, %v; want an error", tt.in, got, rel)
				}
				if !strings.Contains(err.Error(), "12:30") {
					t.Errorf("error %q should show the accepted forms", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTime(%q): %v", tt.in, err)
			}
			if got != tt.want || rel != tt.relative {
				t.Fatalf("parseTime(%q) = %v, relative %v; want %v, %v", tt.in, got, rel, tt.want, tt.relative)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    command
		wantErr string // substring of the error
	}{
		{in: "", want: command{kind: cmdNone}},
		{in: "   \t ", want: command{kind: cmdNone}},
		{in: "hello", want: command{kind: cmdSay, text: "hello"}},
		{in: "  hi there  ", want: command{kind: cmdSay, text: "hi there"}},
		{in: "//slash at start", want: command{kind: cmdSay, text: "/slash at start"}},
		{in: "a /play in the middle", want: command{kind: cmdSay, text: "a /play in the middle"}},
		{in: "/play", want: command{kind: cmdPlay}},
		{in: "/PLAY", want: command{kind: cmdPlay}},
		{in: " /pause ", want: command{kind: cmdPause}},
		{in: "/seek 12:30", want: command{kind: cmdSeek, seconds: 750}},
		{in: "/seek 1:02:03", want: command{kind: cmdSeek, seconds: 3723}},
		{in: "/seek 90", want: command{kind: cmdSeek, seconds: 90}},
		{in: "/seek +10", want: command{kind: cmdSeek, seconds: 10, relative: true}},
		{in: "/seek -5", want: command{kind: cmdSeek, seconds: -5, relative: true}},
		{in: "/seek   -5  ", want: command{kind: cmdSeek, seconds: -5, relative: true}},
		{in: "/host Bob", want: command{kind: cmdHost, text: "Bob"}},
		{in: "/host  Mary Jane ", want: command{kind: cmdHost, text: "Mary Jane"}},
		{in: "/sync", want: command{kind: cmdSync}},
		{in: "/nick New Name", want: command{kind: cmdNick, text: "New Name"}},
		{in: "/help", want: command{kind: cmdHelp}},
		{in: "/quit", want: command{kind: cmdQuit}},
		{in: "/wait off", want: command{kind: cmdWait, text: "off"}},
		{in: "/wait ON", want: command{kind: cmdWait, text: "on"}},
		{in: "/wait", wantErr: "usage: /wait on|off"},
		{in: "/wait later", wantErr: "usage: /wait on|off"},

		{in: "/seek", wantErr: "usage: /seek"},
		{in: "/seek soon", wantErr: `bad time "soon"`},
		{in: "/seek 1:75", wantErr: "below 60"},
		{in: "/host", wantErr: "usage: /host NAME"},
		{in: "/nick", wantErr: "usage: /nick NAME"},
		{in: "/play now", wantErr: "/play takes no arguments"},
		{in: "/frobnicate", wantErr: "unknown command /frobnicate — type /help"},
		{in: "/", wantErr: "/help"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCommand(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCommand(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCommand(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("parseCommand(%q) = %+v (%v); want %+v (%v)", tt.in, got, got.kind, tt.want, tt.want.kind)
			}
		})
	}
}

func TestFormatClock(t *testing.T) {
	tests := map[float64]string{
		0:            "00:00",
		5.9:          "00:05",
		59:           "00:59",
		60:           "01:00",
		750:          "12:30",
		3599:         "59:59",
		3600:         "1:00:00",
		3723:         "1:02:03",
		36000:        "10:00:00",
		-5:           "-00:05",
		math.NaN():   "--:--",
		math.Inf(1):  "--:--",
		math.Inf(-1): "--:--",
	}
	for in, want := range tests {
		if got := formatClock(in); got != want {
			t.Errorf("formatClock(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatOffset(t *testing.T) {
	tests := []struct {
		ms   float64
		want string
	}{
		{0, "0 ms"},
		{0.4, "0 ms"},
		{12, "+12 ms"},
		{-12.4, "-12 ms"},
		{999, "+999 ms"},
		{1000, "+1.0 s"},
		{-1600, "-1.6 s"},
		{59_000, "+59.0 s"},
		{90_000, "+01:30"},
		{-4_000_000, "-1:06:40"},
		{math.NaN(), "?"},
	}
	for _, tt := range tests {
		if got := formatOffset(tt.ms); got != tt.want {
			t.Errorf("formatOffset(%v) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}
