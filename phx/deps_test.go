package phx_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/watchium/watchium-tui/"

// TestDependencyArrows keeps the wire format the only thing client and
// server share: the server must not reach into the client (it did, for the
// codec, before package phx), and phx must know neither side.
func TestDependencyArrows(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"server/...", []string{"realtime"}},
		{"phx", []string{"realtime", "server"}},
		{"realtime", []string{"server"}},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", mod+tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		deps := strings.Fields(string(out))
		for _, f := range tc.forbidden {
			if slices.ContainsFunc(deps, func(d string) bool { return d == mod+f || strings.HasPrefix(d, mod+f+"/") }) {
				t.Errorf("%s depends on %s; only the wire format (phx) may be shared", tc.pkg, f)
			}
		}
		if tc.pkg != "phx" && !slices.Contains(deps, mod+"phx") {
			t.Errorf("%s does not use phx: the test no longer checks what it should", tc.pkg)
		}
	}
}
