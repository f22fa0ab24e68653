// Package testmedia makes small videos with ffmpeg for tests and benchmarks
// (media is generated, never committed).
package testmedia

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Spec describes a test video.
type Spec struct {
	FPS      int // frames per second; 100 gives 10 ms position steps
	Seconds  int
	KeyEvery int // frames between keyframes (short = fast exact seeks)
}

// Default is a 100 fps, 2-minute video with a keyframe every second: mpv's
// position moves every 10 ms, so offsets of a few ms are measurable.
var Default = Spec{FPS: 100, Seconds: 120, KeyEvery: 100}

// ErrNoFFmpeg means ffmpeg is not installed.
var ErrNoFFmpeg = errors.New("ffmpeg is not installed (apt-get install -y ffmpeg)")

// Make writes the video into dir (reusing it if already there) and returns
// its path.
func Make(dir string, s Spec) (string, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "", ErrNoFFmpeg
	}
	path := filepath.Join(dir, fmt.Sprintf("test_%dfps_%ds.mkv", s.FPS, s.Seconds))
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path, nil
	}
	tmp := path + ".part.mkv"
	cmd := exec.Command("ffmpeg", "-y", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=96x54:rate=%d:duration=%d", s.FPS, s.Seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=8000:duration=%d", s.Seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "40",
		"-g", fmt.Sprint(s.KeyEvery), "-keyint_min", fmt.Sprint(s.KeyEvery), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "16k", "-ac", "1", "-shortest", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return path, os.Rename(tmp, path)
}
