package room

import (
	"fmt"
	"math"
)

// ClockString formats seconds as m:ss or h:mm:ss, as people read times.
func ClockString(sec float64) string {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || sec < 0 {
		return "?"
	}
	t := int(math.Floor(sec))
	h, m, s := t/3600, t/60%60, t%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
