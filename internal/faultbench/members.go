package faultbench

import (
	"encoding/json"
	"fmt"
	"strings"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// membersVerdict reads `members --json` and says what it shows for f1.
func membersVerdict(out []byte, err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	var rows []struct {
		UserID      string `json:"user_id"`
		Username    string `json:"username"`
		InSync      bool   `json:"in_sync"`
		IsPlaying   bool   `json:"is_playing"`
		PlayerState string `json:"player_state"`
	}
	if json.Unmarshal(out, &rows) != nil {
		return "unreadable"
	}
	for _, r := range rows {
		// Signed-in members' ids are their users' ids: match by name.
		if r.Username == "f1" || strings.HasPrefix(r.UserID, "f1-") {
			return fmt.Sprintf("f1 player_state=%s in_sync=%v is_playing=%v", r.PlayerState, r.InSync, r.IsPlaying)
		}
	}
	return "f1 missing"
}
