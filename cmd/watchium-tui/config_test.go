package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchium/watchium-tui/server"
)

// runEnv runs the binary with exactly env (plus PATH).

// Flags override WATCHIUM_* variables, which override the config file,
// which overrides the defaults; `config` says which one is in effect.
func TestConfigFilePrecedence(t *testing.T) {
	home := t.TempDir()
	cfgDir := filepath.Join(home, "cfg")
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + cfgDir}
	out, _, code := runEnv(t, env, "config")
	if code != 0 || !strings.Contains(out, filepath.Join(cfgDir, "watchium", "config.toml")+" (not there") ||
		!strings.Contains(out, "server     = "+defaultServer+"  [default]") {
		t.Fatalf("without a file (exit %d):\n%s", code, out)
	}

	url := testServer(t, server.Config{})
	media := filepath.Join(home, "anime")
	if err := os.MkdirAll(filepath.Join(cfgDir, "watchium"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	file := "server = \"" + url + "\"\nname = \"ana\"\nmedia_dirs = [\"~/anime\"]\nmpv_args = [\"--fs\"]\n"
	if err := os.WriteFile(filepath.Join(cfgDir, "watchium", "config.toml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runEnv(t, env, "config")
	for _, want := range []string{"(found)", "server     = " + url + "  [config file]", "name       = ana  [config file]", "media_dirs = " + media, "mpv_args   = --fs"} {
		if !strings.Contains(out, want) {
			t.Fatalf("config lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runEnv(t, append(env, "WATCHIUM_SERVER=http://127.0.0.1:1", "WATCHIUM_NAME=bob"), "config")
	if !strings.Contains(out, "server     = http://127.0.0.1:1  [env WATCHIUM_SERVER]") || !strings.Contains(out, "name       = bob  [env WATCHIUM_NAME]") {
		t.Fatalf("the environment overrides the file:\n%s", out)
	}
	out, _, _ = runEnv(t, append(env, "WATCHIUM_SERVER=http://127.0.0.1:1"), "config", "--server", "http://127.0.0.1:2")
	if !strings.Contains(out, "server     = http://127.0.0.1:2  [flag --server]") {
		t.Fatalf("a flag overrides the environment:\n%s", out)
	}
	// Commands use it: say reaches the file's server with no flag.
	if _, errOut, code := runEnv(t, env, "say", "movie", "hello from the config"); code != 0 {
		t.Fatalf("say with the config file's server: exit %d: %s", code, errOut)
	}
	// A typo is an error that names it.
	if err := os.WriteFile(filepath.Join(cfgDir, "watchium", "config.toml"), []byte("sever = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runEnv(t, env, "config"); code == 0 || !strings.Contains(errOut, "unknown setting sever") {
		t.Fatalf("a bad key: exit %d, %q", code, errOut)
	}
}
