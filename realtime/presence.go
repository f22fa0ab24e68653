package realtime

import (
	"encoding/json"
	"sort"

	"github.com/watchium/watchium-tui/phx"
)

// presenceState mirrors Phoenix's presence.js: a state per key of metas
// identified by phx_ref, diffs buffered until the state for the current join
// has arrived.
type presenceState struct {
	state        map[string][]Presence
	joinRef      string // join whose presence_state we have applied
	pendingDiffs []presenceDiff
}

type presenceDiff struct {
	joins, leaves map[string][]Presence
}

type wireMetas map[string]struct {
	Metas []json.RawMessage `json:"metas"`
}

func decodeMetas(w wireMetas) map[string][]Presence {
	out := make(map[string][]Presence, len(w))
	for k, v := range w {
		for _, raw := range v.Metas {
			var ref struct {
				Ref string `json:"phx_ref"`
			}
			_ = json.Unmarshal(raw, &ref)
			out[k] = append(out[k], Presence{Ref: ref.Ref, Data: raw})
		}
	}
	return out
}

func (ch *Channel) presenceStateLocked(m phx.Message) {
	var w wireMetas
	if err := json.Unmarshal(m.Payload, &w); err != nil {
		ch.c.log.Warn("realtime: bad presence_state", "err", err)
		return
	}
	next := decodeMetas(w)
	ps := &ch.presence
	// Joins and leaves relative to what we had, as presence.js syncState.
	joins, leaves := map[string][]Presence{}, map[string][]Presence{}
	for k, metas := range ps.state {
		if _, ok := next[k]; !ok {
			leaves[k] = metas
		}
	}
	for k, newMetas := range next {
		cur, ok := ps.state[k]
		if !ok {
			joins[k] = newMetas
			continue
		}
		newRefs, curRefs := refSet(newMetas), refSet(cur)
		var j, l []Presence
		for _, p := range newMetas {
			if !curRefs[p.Ref] {
				j = append(j, p)
			}
		}
		for _, p := range cur {
			if !newRefs[p.Ref] {
				l = append(l, p)
			}
		}
		if len(j) > 0 {
			joins[k] = j
		}
		if len(l) > 0 {
			leaves[k] = l
		}
	}
	ps.joinRef = ch.joinRef
	ch.applyDiffLocked(joins, leaves)
	for _, d := range ps.pendingDiffs {
		ch.applyDiffLocked(d.joins, d.leaves)
	}
	ps.pendingDiffs = nil
	ch.fireSyncLocked()
}

func (ch *Channel) presenceDiffLocked(m phx.Message) {
	var w struct {
		Joins  wireMetas `json:"joins"`
		Leaves wireMetas `json:"leaves"`
	}
	if err := json.Unmarshal(m.Payload, &w); err != nil {
		ch.c.log.Warn("realtime: bad presence_diff", "err", err)
		return
	}
	d := presenceDiff{joins: decodeMetas(w.Joins), leaves: decodeMetas(w.Leaves)}
	if ch.presence.joinRef == "" || ch.presence.joinRef != ch.joinRef {
		ch.presence.pendingDiffs = append(ch.presence.pendingDiffs, d)
		return
	}
	ch.applyDiffLocked(d.joins, d.leaves)
	ch.fireSyncLocked()
}

func refSet(ps []Presence) map[string]bool {
	s := make(map[string]bool, len(ps))
	for _, p := range ps {
		s[p.Ref] = true
	}
	return s
}

// applyDiffLocked is presence.js syncDiff: joins add metas (replacing equal
// refs), leaves remove them; a key with no metas left is gone.
func (ch *Channel) applyDiffLocked(joins, leaves map[string][]Presence) {
	ps := &ch.presence
	if ps.state == nil {
		ps.state = map[string][]Presence{}
	}
	for _, k := range sortedKeys(joins) {
		newMetas := joins[k]
		cur := ps.state[k]
		joinedRefs := refSet(newMetas)
		var kept []Presence
		for _, p := range cur {
			if !joinedRefs[p.Ref] {
				kept = append(kept, p)
			}
		}
		ps.state[k] = append(kept, newMetas...)
		current := append([]Presence(nil), cur...)
		joined := append([]Presence(nil), newMetas...)
		for _, fn := range ch.joinFns {
			fn := fn
			ch.c.cb.push(func() { fn(k, current, joined) })
		}
	}
	for _, k := range sortedKeys(leaves) {
		cur, ok := ps.state[k]
		if !ok {
			continue
		}
		gone := refSet(leaves[k])
		var kept []Presence
		for _, p := range cur {
			if !gone[p.Ref] {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			delete(ps.state, k)
		} else {
			ps.state[k] = kept
		}
		remaining := append([]Presence(nil), kept...)
		left := append([]Presence(nil), leaves[k]...)
		for _, fn := range ch.leaveFns {
			fn := fn
			ch.c.cb.push(func() { fn(k, remaining, left) })
		}
	}
}

func (ch *Channel) fireSyncLocked() {
	for _, fn := range ch.syncFns {
		ch.c.cb.push(fn)
	}
}

func sortedKeys(m map[string][]Presence) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
