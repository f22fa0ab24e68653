package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "cfg"))
	path, err := Path()
	if err != nil || path != filepath.Join(dir, "cfg", "watchium", "config.toml") {
		t.Fatalf("Path() = %q, %v", path, err)
	}
	if _, found, err := Load(path); found || err != nil {
		t.Fatalf("a missing file: found=%v err=%v", found, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(Example), 0o600); err != nil {
		t.Fatal(err)
	}
	f, found, err := Load(path)
	if err != nil || !found {
		t.Fatalf("Load: %v %v", found, err)
	}
	if f.Server != "http://127.0.0.1:4000" || f.Name != "ana" || len(f.MPVArgs) != 1 || f.MPVArgs[0] != "--fs" {
		t.Fatalf("got %+v", f)
	}
	if f.MediaDirs[0] != filepath.Join(dir, "Videos", "anime") || f.MediaDirs[1] != "/mnt/media/series" {
		t.Fatalf("media_dirs %q: ~ expands to the home folder", f.MediaDirs)
	}
	for content, want := range map[string]string{
		"sever = \"x\"\n":        "unknown setting sever",
		"media_dirs = \"one\"\n": "media_dirs",
		"name = \n":              "config.toml",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q) error %v, want one mentioning %q", content, err, want)
		}
	}
}
