package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Store keeps one session per server as a file in Dir (mode 0600, the
// directory 0700): the tokens are credentials.
type Store struct {
	Dir string
}

// DefaultDir is $XDG_CONFIG_HOME/watchium, else ~/.config/watchium.
func DefaultDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "watchium")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config", "watchium")
	}
	return filepath.Join(os.TempDir(), "watchium-config")
}

// normalize makes one key of the spellings of a server URL.
func normalize(server string) string {
	s := strings.TrimRight(strings.TrimSpace(server), "/")
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		switch u.Scheme {
		case "ws":
			u.Scheme = "http"
		case "wss":
			u.Scheme = "https"
		}
		u.Host = strings.ToLower(u.Host)
		return u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/")
	}
	return s
}

// Path is the file holding server's session: readable host and port, and
// a hash so that distinct URLs never share a file.
func (st Store) Path(server string) string {
	key := normalize(server)
	sum := sha256.Sum256([]byte(key))
	readable := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://"))
	if len(readable) > 60 {
		readable = readable[:60]
	}
	return filepath.Join(st.Dir, "sessions", readable+"-"+hex.EncodeToString(sum[:4])+".json")
}

type sessionFile struct {
	Server  string   `json:"server"`
	Session *Session `json:"session"`
}

// Load returns server's session, or nil when there is none.
func (st Store) Load(server string) (*Session, error) {
	data, err := os.ReadFile(st.Path(server))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading your session: %w", err)
	}
	var f sessionFile
	if err := json.Unmarshal(data, &f); err != nil || f.Session == nil || f.Session.RefreshToken == "" {
		return nil, fmt.Errorf("your session file %s is damaged: delete it (watchium-tui logout) and sign in again", st.Path(server))
	}
	return f.Session, nil
}

// Save writes server's session atomically (a crash leaves the old file or
// the new one, never half of one).
func (st Store) Save(server string, s *Session) error {
	path := st.Path(server)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("saving your session: %w", err)
	}
	data, err := json.MarshalIndent(sessionFile{Server: normalize(server), Session: s}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-*")
	if err != nil {
		return fmt.Errorf("saving your session: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("saving your session: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("saving your session: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving your session: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving your session: %w", err)
	}
	return nil
}

// Delete forgets server's session; no session is not an error.
func (st Store) Delete(server string) error {
	err := os.Remove(st.Path(server))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
