// Package chatbench measures durable chat on the embedded server: how long
// a comment inserted over REST takes to reach listeners through
// postgres_changes with many rooms active, and how many inserts per second
// the SQLite store sustains. Everything runs on 127.0.0.1.
package chatbench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// Config sets one run.
type Config struct {
	Rooms     int           // active rooms, each with Listeners clients
	Listeners int           // clients per room listening to postgres_changes
	Writers   int           // concurrent inserting clients (closed loop)
	Duration  time.Duration // how long to insert
}

// Result is one run's figures.
type Result struct {
	Config             Config
	Inserts            int
	InsertsPerSecond   float64
	Delivered          int
	P50, P95, P99, Max time.Duration // insert sent → listener got it
	InsertP50          time.Duration // the HTTP request itself
}

// Run performs one measurement with a fresh on-disk store in a temp dir.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Config: cfg}
	dir, err := os.MkdirTemp("", "watchium-chatbench")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		return res, err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	stop := server.New(server.Config{Store: st, EventsPerSecond: 100000}).Start(ln)
	defer stop()
	url := "http://" + ln.Addr().String()

	var mu sync.Mutex
	var lat []time.Duration
	var clients []*realtime.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	// A few sockets carry many channels each, as browsers' tabs would.
	perClient := 50
	var c *realtime.Client
	n := 0
	for r := 0; r < cfg.Rooms; r++ {
		for l := 0; l < cfg.Listeners; l++ {
			if c == nil || n == perClient {
				c, err = realtime.NewClient(url, realtime.Options{})
				if err != nil {
					return res, err
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err = c.Connect(cctx)
				cancel()
				if err != nil {
					return res, err
				}
				clients = append(clients, c)
				n = 0
			}
			n++
			ch := c.Channel(fmt.Sprintf("room:bench-%d-%d", r, l), realtime.ChannelConfig{})
			ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "INSERT", Schema: "public", Table: "comments", Filter: "room_id=eq.bench-" + strconv.Itoa(r)},
				func(pc realtime.PostgresChange) {
					at := time.Now()
					var sent int64
					if _, err := fmt.Sscanf(string(pc.New["content"]), `"%d"`, &sent); err == nil {
						mu.Lock()
						lat = append(lat, at.Sub(time.Unix(0, sent)))
						mu.Unlock()
					}
				})
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = ch.Subscribe(sctx)
			cancel()
			if err != nil {
				return res, err
			}
		}
	}

	rc, err := rest.New(url, "")
	if err != nil {
		return res, err
	}
	var inserts atomic.Int64
	var insertLat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(cfg.Duration)
	for w := 0; w < cfg.Writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; time.Now().Before(end) && ctx.Err() == nil; i += cfg.Writers {
				t0 := time.Now()
				row := map[string]any{"room_id": "bench-" + strconv.Itoa(i%cfg.Rooms), "user_id": "w", "username": "writer", "content": strconv.FormatInt(t0.UnixNano(), 10)}
				if err := rc.Insert(ctx, "comments", row, false, nil); err != nil {
					continue
				}
				d := time.Since(t0)
				inserts.Add(1)
				mu.Lock()
				insertLat = append(insertLat, d)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Let the last deliveries land.
	want := int(inserts.Load()) * cfg.Listeners
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		if got >= want {
			break
		}
		time.Sleep(10 * time.Millisecond) // draining, with a deadline
	}
	mu.Lock()
	defer mu.Unlock()
	res.Inserts = int(inserts.Load())
	res.InsertsPerSecond = float64(res.Inserts) / elapsed.Seconds()
	res.Delivered = len(lat)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(insertLat, func(i, j int) bool { return insertLat[i] < insertLat[j] })
	q := func(xs []time.Duration, p float64) time.Duration {
		if len(xs) == 0 {
			return 0
		}
		return xs[min(len(xs)-1, int(math.Ceil(p*float64(len(xs))))-1)]
	}
	res.P50, res.P95, res.P99 = q(lat, .5), q(lat, .95), q(lat, .99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	res.InsertP50 = q(insertLat, .5)
	return res, nil
}

// FormatTable prints results.
func FormatTable(w io.Writer, rs []Result) {
	fmt.Fprintf(w, "%-28s %10s %10s %10s %10s %10s %12s %12s\n", "scenario", "inserts/s", "deliv p50", "p95", "p99", "max", "insert p50", "delivered")
	for _, r := range rs {
		fmt.Fprintf(w, "%-28s %10.0f %10s %10s %10s %10s %12s %7d/%-6d\n",
			fmt.Sprintf("%d rooms × %d, %d writers", r.Config.Rooms, r.Config.Listeners, r.Config.Writers),
			r.InsertsPerSecond, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), ms(r.InsertP50), r.Delivered, r.Inserts*r.Config.Listeners)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
