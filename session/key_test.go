package session_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/watchium/watchium-tui/session"
)

// One key per device and server: made once (0600, beside the session),
// the same for every later command and for processes racing to make it,
// different for another server.
func TestSigningKeyIsPerDeviceAndServer(t *testing.T) {
	st := session.Store{Dir: t.TempDir()}
	const server = "http://127.0.0.1:54321"
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	errs := make([]error, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := st.SigningKey(server)
			keys[i], errs[i] = k, err
		}()
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatalf("racing for the key: %v", errs[i])
		}
		if string(keys[i]) != string(keys[0]) {
			t.Fatalf("two processes starting at once got different keys")
		}
	}
	again, err := st.SigningKey(server + "/")
	if err != nil || string(again) != string(keys[0]) {
		t.Fatalf("a later command (another spelling of the URL) got another key: %v", err)
	}
	path := st.KeyPath(server)
	if filepath.Dir(path) != filepath.Dir(st.Path(server)) || !strings.HasSuffix(path, ".key") {
		t.Errorf("key at %s, session at %s", path, st.Path(server))
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	other, err := st.SigningKey("https://xyz.supabase.co")
	if err != nil || string(other) == string(keys[0]) {
		t.Fatalf("another server shares the key: %v", err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SigningKey(server); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged key file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".key-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
