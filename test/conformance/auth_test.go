package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRealtimeJSWithUserTokens runs auth.mjs: realtime-js joining with
// tokens from the embedded /auth/v1, refused forgeries, setAuth refresh on
// a live channel and the close of a channel whose token expired.
func TestRealtimeJSWithUserTokens(t *testing.T) {
	_, nodeErr := exec.LookPath("node")
	need(t, nodeErr == nil, "node")
	_, modErr := os.Stat("node_modules/@supabase/realtime-js/package.json")
	need(t, modErr == nil, "test/conformance/node_modules (npm ci in test/conformance)")

	srv := &serveProc{t: t, bin: buildBinary(t), addr: freeAddr(t), data: t.TempDir(), extra: []string{"--jwt-expiry", "3s"}}
	srv.start()
	t.Cleanup(srv.stop)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "auth.mjs")
	node.Env = append(os.Environ(), "SERVER_URL=http://"+srv.addr, "API_KEY=anon")
	node.Stderr = os.Stderr
	stdout, _ := node.StdoutPipe()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	var steps []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		t.Logf("node: %s", sc.Text())
		var s struct{ Step string }
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Step != "" {
			steps = append(steps, s.Step)
		}
	}
	if err := node.Wait(); err != nil {
		t.Fatalf("realtime-js identity checks failed after steps %v: %v", steps, err)
	}
	if got := strings.Join(steps, ","); got != "user-token-joins,forged-token-refused,expired-channel-closed,refreshed-channel-alive,done" {
		t.Fatalf("steps: %s", got)
	}
}
