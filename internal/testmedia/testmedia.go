// Package testmedia makes small videos with ffmpeg for tests and benchmarks
// (media is generated, never committed).
package testmedia

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Spec describes a test video.
type Spec struct {
	FPS      int // frames per second; 100 gives 10 ms position steps
	Seconds  int
	KeyEvery int // frames between keyframes (short = fast exact seeks)

	// The rest describe real-world media; zero values give the small
	// 96×54 test clip.
	Size  string // e.g. "1920x1080"
	Rate  string // exact frame rate, e.g. "24000/1001"; overrides FPS
	Codec string // ffmpeg encoder, e.g. "libx265"; default libx264
}

// Default is a 100 fps, 2-minute video with a keyframe every second: mpv's
// position moves every 10 ms, so offsets of a few ms are measurable.
var Default = Spec{FPS: 100, Seconds: 120, KeyEvery: 100}

// HD is what people actually watch: 1080p at 23.976 fps, H.264 with a
// keyframe every 10 s, so an exact seek decodes up to 240 frames. Ten
// minutes, so seeks never reach the end.
var HD = Spec{Size: "1920x1080", Rate: "24000/1001", Seconds: 600, KeyEvery: 240}

// HDShort is HD cut to two minutes, for tests.
var HDShort = Spec{Size: "1920x1080", Rate: "24000/1001", Seconds: 120, KeyEvery: 240}

// HEVC is HD encoded with x265, four minutes (x265 is several times slower
// to encode than x264).
var HEVC = Spec{Size: "1920x1080", Rate: "24000/1001", Seconds: 240, KeyEvery: 240, Codec: "libx265"}

// FrameDuration is the length of one frame in seconds.
func (s Spec) FrameDuration() float64 {
	if s.Rate == "24000/1001" {
		return 1001.0 / 24000
	}
	if s.FPS > 0 {
		return 1 / float64(s.FPS)
	}
	return 1.0 / 25
}

func (s Spec) name() string {
	if s.Size == "" && s.Codec == "" {
		return fmt.Sprintf("test_%dfps_%ds.mkv", s.FPS, s.Seconds)
	}
	codec := s.Codec
	if codec == "" {
		codec = "libx264"
	}
	rate := strings.ReplaceAll(s.Rate, "/", "_")
	return fmt.Sprintf("test_%s_%s_%s_g%d_%ds.mkv", s.Size, rate, codec, s.KeyEvery, s.Seconds)
}

// ErrNoFFmpeg means ffmpeg is not installed.
var ErrNoFFmpeg = errors.New("ffmpeg is not installed (apt-get install -y ffmpeg)")

// CacheDir is where generated videos are kept between runs (HD ones take
// minutes to encode): $XDG_CACHE_HOME/watchium/testmedia.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "watchium", "testmedia")
	return dir, os.MkdirAll(dir, 0o755)
}

// Cached makes the video in CacheDir, or reuses it.
func Cached(s Spec) (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return Make(dir, s)
}

// Make writes the video into dir (reusing it if already there) and returns
// its path.
func Make(dir string, s Spec) (string, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "", ErrNoFFmpeg
	}
	path := filepath.Join(dir, s.name())
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path, nil
	}
	// A unique temporary name: two test binaries may make the same file at
	// once, and the rename makes whichever finishes first the one kept.
	f, err := os.CreateTemp(dir, s.name()+".*.part.mkv")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	var args []string
	if s.Size == "" {
		args = []string{
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=96x54:rate=%d:duration=%d", s.FPS, s.Seconds),
			"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=8000:duration=%d", s.Seconds),
			"-c:v", "libx264", "-preset", "veryfast", "-crf", "40",
			"-c:a", "aac", "-b:a", "16k", "-ac", "1",
		}
	} else {
		codec := s.Codec
		if codec == "" {
			codec = "libx264"
		}
		args = []string{
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%s:duration=%d", s.Size, s.Rate, s.Seconds),
			"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", s.Seconds),
			"-c:v", codec, "-preset", "veryfast", "-crf", "26",
			"-c:a", "aac", "-b:a", "96k",
		}
		if codec == "libx265" {
			args = append(args, "-x265-params", fmt.Sprintf("keyint=%d:min-keyint=%d:scenecut=0:log-level=error", s.KeyEvery, s.KeyEvery))
		}
	}
	args = append(args, "-g", fmt.Sprint(s.KeyEvery), "-keyint_min", fmt.Sprint(s.KeyEvery), "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-shortest", "-f", "matroska", tmp)
	cmd := exec.Command("ffmpeg", append([]string{"-y", "-loglevel", "error"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return path, os.Rename(tmp, path)
}

// HasEncoder reports whether ffmpeg can encode with name (e.g. libx265).
func HasEncoder(name string) bool {
	out, err := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
	return err == nil && strings.Contains(string(out), " "+name+" ")
}
