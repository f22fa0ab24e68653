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

// TestRealtimeJSPrivateRoom runs private.mjs: realtime-js members of a
// private room (config.private) against `watchium-tui serve`; an outsider
// with a valid token refused both channels; a kicked member cut off.
func TestRealtimeJSPrivateRoom(t *testing.T) {
	_, nodeErr := exec.LookPath("node")
	need(t, nodeErr == nil, "node")
	_, modErr := os.Stat("node_modules/@supabase/realtime-js/package.json")
	need(t, modErr == nil, "test/conformance/node_modules (npm ci in test/conformance)")

	srv := &serveProc{t: t, bin: buildBinary(t), addr: freeAddr(t), data: t.TempDir()}
	srv.start()
	t.Cleanup(srv.stop)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "private.mjs")
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
		t.Fatalf("realtime-js private-room checks failed after steps %v: %v", steps, err)
	}
	if got := strings.Join(steps, ","); got != "owner-joined,outsider-refused,friend-joined,friend-kicked,done" {
		t.Fatalf("steps: %s", got)
	}
}
