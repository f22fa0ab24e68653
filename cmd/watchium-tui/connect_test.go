package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A data directory that cannot be opened used to be swapped for memory in
// silence: the party chatted, the server restarted, the chat was gone.
func TestLocalServerSaysWhenChatWillNotSurvive(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_DATA_HOME", blocker) // MkdirAll under a file fails
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs, stderr syncBuffer
	var said []string
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stop, err := startLocalServer(context.Background(), globalFlags{server: "http://" + addr, key: "k"}, addr, log,
		func(s string) { said = append(said, s) }, &stderr)
	if err != nil {
		t.Fatalf("the server should still start, in memory: %v", err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("embedded server not up: %v", err)
	}
	resp.Body.Close()
	for where, text := range map[string]string{"stderr": stderr.String(), "log": logs.String(), "say": strings.Join(said, "\n")} {
		if !strings.Contains(text, "will not survive a restart") && !strings.Contains(text, "will NOT survive a restart") {
			t.Errorf("%s does not warn that chat will not survive a restart:\n%s", where, text)
		}
	}
	if !strings.Contains(stderr.String(), "not-a-dir") || !strings.Contains(stderr.String(), "serve --data") {
		t.Errorf("the warning names neither the directory nor the way out:\n%s", stderr.String())
	}
}

// A realtime client whose first dial was refused used to be dropped without
// Close, keeping its callback goroutine for the life of the process.
func TestRefusedFirstClientIsClosed(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	srv := httptest.NewServer(http.NotFoundHandler()) // no sign-in, no socket
	defer srv.Close()
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 20 {
		if l, err := connect(ctx, globalFlags{server: srv.URL, key: "k"}, slog.New(slog.DiscardHandler), false, nil); err == nil {
			l.close()
			t.Fatal("connect to a server without a socket succeeded")
		}
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
}
