package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name of the generated JWT secret in the data directory.
const SecretFile = "jwt-secret"

// LoadOrCreateSecret returns the JWT secret kept in dir, generating one
// (mode 0600) on first use, so tokens stay valid across restarts. A dir of
// ":memory:" gets a fresh secret that is never written down.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	if dir == ":memory:" {
		return newSecret(), nil
	}
	path := filepath.Join(dir, SecretFile)
	data, err := os.ReadFile(path)
	if err == nil {
		secret := bytes.TrimSpace(data)
		if len(secret) < 32 {
			return nil, fmt.Errorf("the JWT secret in %s is shorter than 32 bytes: delete it to generate a new one (every session will have to sign in again)", path)
		}
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the JWT secret: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	secret := newSecret()
	// O_EXCL: two servers starting at once on one data dir must not end up
	// with different secrets; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateSecret(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the JWT secret: %w", err)
	}
	if _, err := f.Write(append(secret, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing the JWT secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the JWT secret: %w", err)
	}
	return secret, nil
}

func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return []byte(hex.EncodeToString(b))
}
