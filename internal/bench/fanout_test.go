package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
)

// TestMain doubles as a server process: with WATCHIUM_BENCH_SERVE=1 the test
// binary runs only the embedded server on 127.0.0.1:0, prints its address
// and serves until its stdin closes. TestPrintTable uses that to measure the
// server's memory without the clients' in the same process.
func TestMain(m *testing.M) {
	if os.Getenv("WATCHIUM_BENCH_SERVE") == "1" {
		serveChild()
		return
	}
	os.Exit(m.Run())
}

func serveChild() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := server.New(server.Config{})
	go func() { _ = http.Serve(ln, srv) }()
	fmt.Printf("LISTEN %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	os.Exit(0)
}

// childServer starts this test binary as a server process.
func childServer(t testing.TB) (url string, pid int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WATCHIUM_BENCH_SERVE=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(s), "LISTEN ")
		if !ok {
			t.Fatalf("child server said %q", s)
		}
		return "http://" + addr, cmd.Process.Pid
	case <-time.After(10 * time.Second):
		t.Fatal("child server did not start")
	}
	return "", 0
}

func inProcess(t testing.TB, cfg server.Config) string {
	t.Helper()
	srv := server.New(cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

func TestFanoutDeliversEverything(t *testing.T) {
	url := inProcess(t, server.Config{})
	for name, cfg := range map[string]FanoutConfig{
		"10 members":          {Rooms: 1, Members: 10, Messages: 20, Interval: 10 * time.Millisecond},
		"10 members closed":   {Rooms: 1, Members: 10, Messages: 20},
		"3 rooms of 5 +track": {Rooms: 3, Members: 5, Messages: 20, Interval: 20 * time.Millisecond, Presence: true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := RunFanout(ctx, url, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Deliveries != res.Expected() || res.Expected() != cfg.Rooms*(cfg.Members-1)*20 {
				t.Fatalf("%d of %d deliveries", res.Deliveries, res.Expected())
			}
			if !(0 < res.P50 && res.P50 <= res.P95 && res.P95 <= res.P99 && res.P99 <= res.Max) {
				t.Fatalf("percentiles out of order: %+v", res)
			}
			var sb strings.Builder
			FormatTable(&sb, []FanoutResult{res})
			t.Log("\n" + sb.String())
		})
	}
}

func TestFanoutReportsRateLimit(t *testing.T) {
	// A sender far over the server's events-per-second limit is closed by
	// the server; the run must say so instead of waiting for deliveries.
	url := inProcess(t, server.Config{EventsPerSecond: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := RunFanout(ctx, url, FanoutConfig{Rooms: 1, Members: 2, Messages: 50})
	if err == nil || !strings.Contains(err.Error(), "events-per-second") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefusesNonLoopbackAndBadConfigs(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"http://192.0.2.1:4000", "https://example.com", "ws://10.0.0.1/realtime/v1/websocket"} {
		if _, err := RunFanout(ctx, u, FanoutConfig{Rooms: 1, Members: 2, Messages: 1}); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v", u, err)
		}
		if _, err := MeasureIdleRSS(ctx, u, 1, ProcRSS(0)); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("MeasureIdleRSS %s: %v", u, err)
		}
	}
	for _, cfg := range []FanoutConfig{
		{Rooms: 1, Members: 1, Messages: 1},
		{Rooms: 10, Members: 1000, Messages: 1},
		{Rooms: 1, Members: 2, Messages: 0},
		{Rooms: 1, Members: 2, Messages: 10, Interval: time.Hour},
	} {
		if _, err := RunFanout(ctx, "http://127.0.0.1:1", cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestMeasureIdleRSS(t *testing.T) {
	url := inProcess(t, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kib, err := MeasureIdleRSS(ctx, url, 50, ProcRSS(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in-process, 50 conns: %.1f KiB per idle connection (server and client)", kib)
}

// BenchmarkFanout runs closed-loop broadcasts (the next leaves when every
// member has the previous one) against an in-process server; one op is one
// broadcast per room delivered to all its members.
func BenchmarkFanout(b *testing.B) {
	for _, cfg := range []FanoutConfig{
		{Rooms: 1, Members: 10},
		{Rooms: 1, Members: 100},
		{Rooms: 10, Members: 10, Presence: true},
	} {
		b.Run(fmt.Sprintf("rooms=%d,members=%d,presence=%t", cfg.Rooms, cfg.Members, cfg.Presence), func(b *testing.B) {
			url := inProcess(b, server.Config{EventsPerSecond: 1 << 20})
			cfg.Messages = min(b.N, MaxMessages)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := runFanout(ctx, url, cfg, b.ResetTimer)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.P50)/1e6, "p50-ms")
			b.ReportMetric(float64(res.P99)/1e6, "p99-ms")
			b.ReportMetric(float64(res.Deliveries)/float64(cfg.Messages), "deliveries/op")
		})
	}
}

// TestPrintTable prints the full scenario table. It takes about a minute,
// so it runs only with WATCHIUM_BENCH=1 (and should run without -race):
//
//	WATCHIUM_BENCH=1 go test -run TestPrintTable -v ./internal/bench/
func TestPrintTable(t *testing.T) {
	if os.Getenv("WATCHIUM_BENCH") != "1" {
		t.Skip("set WATCHIUM_BENCH=1 to run the fan-out table")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var rs []FanoutResult
	for _, cfg := range Scenarios() {
		url := inProcess(t, server.Config{})
		res, err := RunFanout(ctx, url, cfg)
		if err != nil {
			t.Errorf("%s: %v", cfg, err)
		}
		rs = append(rs, res)
	}

	const conns = 1000
	childURL, pid := childServer(t)
	sep, err := MeasureIdleRSS(ctx, childURL, conns, ProcRSS(pid))
	if err != nil {
		t.Fatalf("idle RSS (server process): %v", err)
	}
	in, err := MeasureIdleRSS(ctx, inProcess(t, server.Config{}), conns, ProcRSS(0))
	if err != nil {
		t.Fatalf("idle RSS (in process): %v", err)
	}
	for i := range rs {
		if rs[i].Config.Rooms == 1 && rs[i].Config.Members == conns {
			rs[i].RSSPerIdleConnKiB = sep
		}
	}
	var sb strings.Builder
	FormatTable(&sb, rs)
	fmt.Fprintf(&sb, "\nidle connections (%d, joined, 10 per room): %.1f KiB each in a separate server process; %.1f KiB in-process including the clients\n", conns, sep, in)
	t.Log("\n" + sb.String())
}
