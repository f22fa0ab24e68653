package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startServe runs `serve` on addr with data in dir and waits for it.
func startServe(t *testing.T, addr, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", addr, "--data", dir}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up on %s", addr)
		}
		time.Sleep(20 * time.Millisecond) // polling for the port, with a deadline
	}
}

func TestAcknowledgedCommentsSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := startServe(t, addr, dir)
	url := "http://" + addr

	// Chat from several shells at once; remember what the server
	// acknowledged (say exited 0), then kill -9 the server mid-stream.
	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				text := fmt.Sprintf("w%d-m%d", w, i)
				cmd := exec.Command(binary, "say", "durable", text, "--server", url, "--name", "ana")
				if cmd.Run() == nil {
					mu.Lock()
					acked[text] = true
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 15 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages acknowledged", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	cancel()
	wg.Wait()

	startServe(t, addr, dir)
	resp, err := http.Get(url + "/rest/v1/comments?room_id=eq.durable&limit=100000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []struct {
		Content string `json:"content"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r.Content] = true
	}
	for text := range acked {
		if !have[text] {
			t.Errorf("acknowledged comment %q lost in the crash", text)
		}
	}
	t.Logf("%d acknowledged, %d stored after kill -9", len(acked), len(rows))
}
