package bench

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// FanoutResult is what a run measured. Latencies are over all deliveries.
type FanoutResult struct {
	Config     FanoutConfig
	Deliveries int // received broadcasts; Rooms×(Members−1)×Messages if none was lost
	P50, P95   time.Duration
	P99, Max   time.Duration
	// RSSPerIdleConnKiB is filled in by the caller from MeasureIdleRSS.
	RSSPerIdleConnKiB float64
}

// Expected is the number of deliveries a lossless run makes.
func (r FanoutResult) Expected() int {
	return r.Config.Rooms * (r.Config.Members - 1) * r.Config.Messages
}

// pct is the p-th percentile (nearest rank) of sorted d.
func pct(d []time.Duration, p int) time.Duration {
	i := (len(d)*p + 99) / 100
	return d[max(i-1, 0)]
}

// FormatTable writes rs as an aligned table.
func FormatTable(w io.Writer, rs []FanoutResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmsgs/room\tinterval\tdeliveries\tp50\tp95\tp99\tmax\tKiB/idle conn\t")
	for _, r := range rs {
		iv := "closed loop"
		if r.Config.Interval > 0 {
			iv = r.Config.Interval.String()
		}
		rss := "-"
		if r.RSSPerIdleConnKiB != 0 {
			rss = fmt.Sprintf("%.1f", r.RSSPerIdleConnKiB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Config, r.Config.Messages, iv,
			r.Deliveries, r.Expected(), ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), rss)
	}
	_ = tw.Flush()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}
