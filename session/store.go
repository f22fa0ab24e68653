package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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
	if err := writePrivate(path, ".session-*", data, os.Rename); err != nil {
		return fmt.Errorf("saving your session: %w", err)
	}
	return nil
}

// writePrivate writes data to a temporary file (mode 0600) beside path and
// then places it at path with place: os.Rename replaces what is there, a
// crash leaving the old file or the new one, never half of one; os.Link
// fails (fs.ErrExist) if another process placed its file first.
func writePrivate(path, pattern string, data []byte, place func(oldpath, newpath string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return place(tmp.Name(), path)
}

// Delete forgets server's session; no session is not an error.
func (st Store) Delete(server string) error {
	err := os.Remove(st.Path(server))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// KeyPath is the file holding this device's signing key for server, next
// to its session.
func (st Store) KeyPath(server string) string {
	return strings.TrimSuffix(st.Path(server), ".json") + ".key"
}

// SigningKey returns this device's Ed25519 key for server, making and
// saving one (mode 0600) the first time. Every command on this device uses
// the same key, so a second terminal of the same user does not replace the
// public key on the user's room_members row with one its running host
// does not sign with. Two processes starting at once agree: the first file
// written wins and the other reads it.
func (st Store) SigningKey(server string) (ed25519.PrivateKey, error) {
	path := st.KeyPath(server)
	if key, err := readKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("saving your signing key: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	// A link, not a rename: it fails if another process saved its key
	// first, and then that one is everyone's.
	err = writePrivate(path, ".key-*", []byte(base64.StdEncoding.EncodeToString(key.Seed())+"\n"), os.Link)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("saving your signing key: %w", err)
	}
	return key, nil
}

func readKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("your signing key file %s is damaged: delete it and a new key is made", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
