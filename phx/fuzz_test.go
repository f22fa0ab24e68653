package phx_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/watchium/watchium-tui/phx"
)

// Frames captured from realtime-js 2.119 (docs/realtime-protocol.md §1.2,
// §1.3, §3.1, §5.2, §6.1) plus a few edge shapes.
var seedText = []string{
	`{"topic":"realtime:room:abc","event":"phx_join","payload":{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[],"private":false},"access_token":"x"},"ref":"6","join_ref":"6"}`,
	`{"topic":"realtime:room:abc","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"6"}`,
	`["6","6","realtime:room:abc","phx_join",{"config":{"broadcast":{"self":true,"ack":true},"presence":{"key":"user-1","enabled":true},"postgres_changes":[{"event":"INSERT","schema":"public","table":"todos","filter":"id=eq.5"},{"event":"*","schema":"public"}],"private":false},"access_token":"eyJ"}]`,
	`["6","6","realtime:room:abc","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]`,
	`[null,"10","phoenix","heartbeat",{}]`,
	`[null,"10","phoenix","phx_reply",{"status":"ok","response":{}}]`,
	`[null,null,"realtime:room:abc","broadcast",{"type":"broadcast","event":"msg","payload":{"hello":"wörld"}}]`,
	`["6",null,"realtime:room","presence_state",{"user-1":{"metas":[{"phx_ref":"GHk99Q_ez6-GzaeG","online_at":"…"}]}}]`,
	`[null,null,"realtime:room","presence_diff",{"joins":{"user-2":{"metas":[{"phx_ref":"GHlE8VLvxuKGzQJN","color":"red"}]}},"leaves":{}}]`,
	`[null,null,"realtime:room:abc","postgres_changes",{"ids":[31817311],"data":{"schema":"public","table":"todos","type":"UPDATE","record":{"id":5},"old_record":{"id":5},"errors":null}}]`,
	`["6","8","realtime:room:abc","access_token",{"access_token":"<jwt>"}]`,
	`[1,2,"t","e",null,"extra"]`,
	`{"topic":"t","event":"e","payload":null,"ref":12}`,
	`[null,null,"t","e"]`,
	` `,
}

var seedBinary = [][]byte{
	append([]byte{0x03, 0x01, 0x01, 0x11, 0x03, 0x00, 0x01, '6', '8'}, []byte("realtime:room:abcmsg{\"hello\":\"wörld\"}")...),
	append([]byte{0x04, 0x11, 0x03, 0x00, 0x01}, []byte("realtime:room:abcmsg{\"hello\":\"wörld\"}")...),
	append([]byte{0x04, 0x01, 0x01, 0x10, 0x00, 't', 'e'}, []byte(`{"replayed":true}`+"\x00\xff")...),
	{0x03, 0, 0, 1, 1, 0, 0, 't', 'e'},
	{0x03, 255, 255, 255, 255, 255, 1},
	{0x00, 1, 1, 1, 'a', 'b', 'c'},
	{},
}

// sameJSON compares two JSON texts by value.
func sameJSON(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// FuzzDecode feeds arbitrary bytes to both decoders: they must never panic,
// and whatever they accept must survive re-encoding and decoding again.
func FuzzDecode(f *testing.F) {
	for _, s := range seedText {
		f.Add([]byte(s))
	}
	for _, b := range seedBinary {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := phx.DecodeBinary(data); err == nil {
			checkBinary(t, data, m)
		}
		if m, err := phx.DecodeText(data); err == nil {
			checkText(t, m)
		}
	})
}

func checkBinary(t *testing.T, data []byte, m phx.Message) {
	if !m.Binary || m.Event != phx.EventBroadcast || m.Topic == "" || m.UserEvent == "" {
		t.Fatalf("decoded binary message %+v", m)
	}
	if m.UserEnc == phx.EncodingJSON {
		var p struct {
			Type    string          `json:"type"`
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Type != "broadcast" || !sameJSON(p.Payload, m.UserPayload) {
			t.Fatalf("JSON form %q of %x: %v", m.Payload, data, err)
		}
	} else if m.Payload != nil {
		t.Fatalf("raw-bytes broadcast has a JSON payload %q", m.Payload)
	}

	var again []byte
	var err error
	if data[0] == 3 {
		again, err = phx.EncodeUserPush(m.JoinRef, m.Ref, m.Topic, m.UserEvent, m.UserMeta, m.UserEnc, m.UserPayload)
	} else {
		again, err = phx.EncodeUserBroadcast(m.Topic, m.UserEvent, m.UserMeta, m.UserEnc, m.UserPayload)
	}
	if err != nil {
		t.Fatalf("re-encode %+v: %v", m, err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("re-encoded %x, decoded from %x", again, data)
	}
	m2, err := phx.DecodeBinary(again)
	if err != nil {
		t.Fatalf("decode of re-encoded %x: %v", again, err)
	}
	sameMsg(t, m, m2)

	// What a server does with a kind 3: forward it as kind 4.
	if data[0] == 3 {
		fwd, err := phx.EncodeUserBroadcast(m.Topic, m.UserEvent, m.UserMeta, m.UserEnc, m.UserPayload)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		m4, err := phx.DecodeBinary(fwd)
		if err != nil {
			t.Fatalf("decode forwarded %x: %v", fwd, err)
		}
		m.JoinRef, m.Ref = "", ""
		sameMsg(t, m, m4)
	}
}

func sameMsg(t *testing.T, a, b phx.Message) {
	t.Helper()
	if a.JoinRef != b.JoinRef || a.Ref != b.Ref || a.Topic != b.Topic || a.Event != b.Event ||
		a.Binary != b.Binary || a.UserEvent != b.UserEvent || a.UserEnc != b.UserEnc ||
		!bytes.Equal(a.UserMeta, b.UserMeta) || !bytes.Equal(a.UserPayload, b.UserPayload) || !bytes.Equal(a.Payload, b.Payload) {
		t.Fatalf("round trip changed the message:\n%+v\n%+v", a, b)
	}
}

func checkText(t *testing.T, m phx.Message) {
	if m.Topic == "" || m.Event == "" || len(m.Payload) == 0 || m.Binary {
		t.Fatalf("decoded text message %+v", m)
	}
	for _, vsn := range []string{phx.VSN1, phx.VSN2} {
		enc, err := phx.EncodeText(vsn, m)
		if err != nil {
			t.Fatalf("EncodeText(%s, %+v): %v", vsn, m, err)
		}
		m2, err := phx.DecodeText(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", enc, err)
		}
		if m2.JoinRef != m.JoinRef || m2.Ref != m.Ref || m2.Topic != m.Topic || m2.Event != m.Event || !sameJSON(m.Payload, m2.Payload) {
			t.Fatalf("%s round trip: %+v → %s → %+v", vsn, m, enc, m2)
		}
	}
}
