// Package config reads the person's settings file,
// $XDG_CONFIG_HOME/watchium/config.toml (~/.config/watchium/config.toml):
// the server, key and name to use, the media folders playlist entries are
// looked for in, and extra mpv arguments. Command-line flags override it,
// the WATCHIUM_* environment variables come between the two, and it
// overrides the built-in defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// File is what config.toml may hold.
type File struct {
	Server    string   `toml:"server"`
	Key       string   `toml:"key"`
	Name      string   `toml:"name"`
	MediaDirs []string `toml:"media_dirs"`
	MPVArgs   []string `toml:"mpv_args"`
}

// Example is a commented config.toml, for `watchium-tui config` and the
// README.
const Example = `server = "http://127.0.0.1:4000"   # or https://xyz.supabase.co
key = ""                            # the server's anon key, if it needs one
name = "ana"
media_dirs = ["~/Videos/anime", "/mnt/media/series"]
mpv_args = ["--fs"]
`

// Path is where the file lives: $XDG_CONFIG_HOME/watchium/config.toml.
func Path() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your config folder (set XDG_CONFIG_HOME or HOME): %w", err)
	}
	return filepath.Join(dir, "watchium", "config.toml"), nil
}

// Load reads the file at path; a missing file is no error (found is false).
// Unknown keys are an error, so a typo does not silently do nothing.
func Load(path string) (f File, found bool, err error) {
	md, err := toml.DecodeFile(path, &f)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, false, nil
	}
	if err != nil {
		return File{}, true, fmt.Errorf("reading %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		return File{}, true, fmt.Errorf("%s: unknown setting %s (known: server, key, name, media_dirs, mpv_args)", path, strings.Join(keys, ", "))
	}
	for i, d := range f.MediaDirs {
		f.MediaDirs[i] = ExpandHome(d)
	}
	return f, true, nil
}

// ExpandHome turns a leading ~/ into the home folder.
func ExpandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
