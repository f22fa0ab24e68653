package realtime

import (
	"strings"
	"testing"
)

func TestDebugFramesHideAccessTokens(t *testing.T) {
	frame := outFrame{data: []byte(`["1","1","realtime:room:a","phx_join",{"config":{},"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"}]`)}
	got := debugFrame(frame)
	if strings.Contains(got, "eyJ") || !strings.Contains(got, `"access_token":"[redacted]"`) {
		t.Fatalf("debug frame: %s", got)
	}
}
