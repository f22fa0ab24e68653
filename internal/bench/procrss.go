package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcRSS returns an rss func for MeasureIdleRSS that reads VmRSS of
// process pid from /proc (pid 0: this process). Linux only.
func ProcRSS(pid int) func() (int64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	return func() (int64, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("bench: reading RSS: %w", err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("bench: parsing %q: %w", line, err)
				}
				return kb * 1024, nil
			}
		}
		return 0, fmt.Errorf("bench: no VmRSS in %s", path)
	}
}
