package phx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/watchium/watchium-tui/phx"
)

func TestTextRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vsn    string
		msg    phx.Message
		wire   string
		decode phx.Message // when decoding differs (v1 frames carry no null join_ref)
	}{
		{
			name: "v2 join", vsn: phx.VSN2,
			msg:  phx.Message{JoinRef: "6", Ref: "6", Topic: "realtime:room:abc", Event: phx.EventJoin, Payload: json.RawMessage(`{"config":{"private":false}}`)},
			wire: `["6","6","realtime:room:abc","phx_join",{"config":{"private":false}}]`,
		},
		{
			name: "v2 heartbeat", vsn: phx.VSN2,
			msg:  phx.Message{Ref: "10", Topic: "phoenix", Event: phx.EventHeartbeat, Payload: json.RawMessage(`{}`)},
			wire: `[null,"10","phoenix","heartbeat",{}]`,
		},
		{
			name: "v2 broadcast, empty payload becomes {}", vsn: phx.VSN2,
			msg:    phx.Message{Topic: "realtime:r", Event: phx.EventBroadcast},
			wire:   `[null,null,"realtime:r","broadcast",{}]`,
			decode: phx.Message{Topic: "realtime:r", Event: phx.EventBroadcast, Payload: json.RawMessage(`{}`)},
		},
		{
			name: "v1 join", vsn: phx.VSN1,
			msg:  phx.Message{JoinRef: "6", Ref: "6", Topic: "realtime:room:abc", Event: phx.EventJoin, Payload: json.RawMessage(`{"config":{}}`)},
			wire: `{"topic":"realtime:room:abc","event":"phx_join","payload":{"config":{}},"ref":"6","join_ref":"6"}`,
		},
		{
			name: "v1 heartbeat omits join_ref", vsn: phx.VSN1,
			msg:  phx.Message{Ref: "10", Topic: "phoenix", Event: phx.EventHeartbeat, Payload: json.RawMessage(`{}`)},
			wire: `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"10"}`,
		},
		{
			name: "v1 reply", vsn: phx.VSN1,
			msg:  phx.Message{Ref: "6", Topic: "realtime:room:abc", Event: phx.EventReply, Payload: json.RawMessage(`{"status":"ok","response":{}}`)},
			wire: `{"topic":"realtime:room:abc","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"6"}`,
		},
		{
			name: "unicode and escapes", vsn: phx.VSN2,
			msg:  phx.Message{Topic: "realtime:wörld \"x\"", Event: "e", Payload: json.RawMessage(`{"s":"a\u0000b"}`)},
			wire: `[null,null,"realtime:wörld \"x\"","e",{"s":"a\u0000b"}]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := phx.EncodeText(tc.vsn, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wire {
				t.Fatalf("encoded\n %s\nwant\n %s", got, tc.wire)
			}
			want := tc.msg
			if tc.decode.Topic != "" {
				want = tc.decode
			}
			m, err := phx.DecodeText(got)
			if err != nil {
				t.Fatal(err)
			}
			if m.JoinRef != want.JoinRef || m.Ref != want.Ref || m.Topic != want.Topic || m.Event != want.Event || !bytes.Equal(m.Payload, want.Payload) {
				t.Fatalf("decoded %+v, want %+v", m, want)
			}
		})
	}
}

func TestDecodeTextLenient(t *testing.T) {
	for _, tc := range []struct {
		in          string
		ref, joinRf string
	}{
		{`[1,2,"t","e",{}]`, "2", "1"},                                  // numeric refs
		{`[null,null,"t","e",{},"extra"]`, "", ""},                      // extra elements ignored
		{`{"topic":"t","event":"e","payload":null,"ref":null}`, "", ""}, // null payload
		{"  [null,\"3\",\"t\",\"e\",{}]\n", "3", ""},                    // whitespace
	} {
		m, err := phx.DecodeText([]byte(tc.in))
		if err != nil || m.Ref != tc.ref || m.JoinRef != tc.joinRf || string(m.Payload) == "" {
			t.Errorf("%s: %+v %v", tc.in, m, err)
		}
	}
	for _, in := range []string{``, `[]`, `[null,null,"t","e"]`, `[null,null,"","e",{}]`, `{"event":"e"}`, `[null,true,"t","e",{}]`, `"x"`} {
		if _, err := phx.DecodeText([]byte(in)); err == nil {
			t.Errorf("%q decoded without error", in)
		}
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	// The worked example of the protocol doc, §1.3.
	kind3 := append([]byte{0x03, 0x01, 0x01, 0x11, 0x03, 0x00, 0x01, '6', '8'}, []byte("realtime:room:abcmsg{\"hello\":\"wörld\"}")...)
	kind4 := append([]byte{0x04, 0x11, 0x03, 0x00, 0x01}, []byte("realtime:room:abcmsg{\"hello\":\"wörld\"}")...)

	got, err := phx.EncodeUserPush("6", "8", "realtime:room:abc", "msg", nil, phx.EncodingJSON, []byte(`{"hello":"wörld"}`))
	if err != nil || !bytes.Equal(got, kind3) {
		t.Fatalf("EncodeUserPush = %x, %v; want %x", got, err, kind3)
	}
	m, err := phx.DecodeBinary(got)
	if err != nil || m.JoinRef != "6" || m.Ref != "8" || m.Topic != "realtime:room:abc" || m.UserEvent != "msg" ||
		m.Event != phx.EventBroadcast || !m.Binary || m.UserEnc != phx.EncodingJSON ||
		string(m.Payload) != `{"type":"broadcast","event":"msg","payload":{"hello":"wörld"}}` {
		t.Fatalf("DecodeBinary(kind 3) = %+v, %v", m, err)
	}
	got, err = phx.EncodeUserBroadcast(m.Topic, m.UserEvent, m.UserMeta, m.UserEnc, m.UserPayload)
	if err != nil || !bytes.Equal(got, kind4) {
		t.Fatalf("EncodeUserBroadcast = %x, %v; want %x", got, err, kind4)
	}

	for _, tc := range []struct {
		name    string
		meta    []byte
		enc     byte
		payload []byte
		json    string // expected Payload; "" for raw bytes
	}{
		{"json with meta", []byte(`{"replayed":true,"id":"x"}`), phx.EncodingJSON, []byte(`[1,2]`), `{"type":"broadcast","event":"ev","payload":[1,2],"meta":{"replayed":true,"id":"x"}}`},
		{"raw bytes", nil, phx.EncodingBinary, []byte{0, 0xff, 1}, ""},
		{"empty raw payload", nil, phx.EncodingBinary, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := phx.EncodeUserBroadcast("realtime:t", "ev", tc.meta, tc.enc, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			m, err := phx.DecodeBinary(b)
			if err != nil || m.Topic != "realtime:t" || m.UserEvent != "ev" || m.UserEnc != tc.enc ||
				!bytes.Equal(m.UserMeta, tc.meta) || !bytes.Equal(m.UserPayload, tc.payload) || string(m.Payload) != tc.json {
				t.Fatalf("decoded %+v, %v", m, err)
			}
			p, err := phx.EncodeUserPush("1", "2", m.Topic, m.UserEvent, m.UserMeta, m.UserEnc, m.UserPayload)
			if err != nil {
				t.Fatal(err)
			}
			m3, err := phx.DecodeBinary(p)
			if err != nil || m3.JoinRef != "1" || m3.Ref != "2" || !bytes.Equal(m3.UserPayload, tc.payload) || string(m3.Payload) != tc.json {
				t.Fatalf("kind 3 decoded %+v, %v", m3, err)
			}
		})
	}

	long := string(make([]byte, 256))
	if _, err := phx.EncodeUserBroadcast(long, "e", nil, 1, nil); err == nil {
		t.Error("topic of 256 bytes encoded")
	}
	if _, err := phx.EncodeUserPush("1", "2", "t", long, nil, 1, nil); err == nil {
		t.Error("event of 256 bytes encoded")
	}
	for _, bad := range [][]byte{
		{}, {0}, {1}, {2}, {3, 0}, {4, 1}, {4, 1, 1, 0, 2, 't', 'e'},
		{4, 1, 1, 0, 1, 't', 'e', '{'}, {4, 1, 1, 1, 1, 't', 'e', 'x', '1'}, {4, 0, 1, 0, 1, 'e', '1'},
	} {
		if m, err := phx.DecodeBinary(bad); err == nil {
			t.Errorf("%x decoded as %+v", bad, m)
		}
	}
}

// SplitUserBroadcast cuts exactly what EncodeUserBroadcast wrote, copies
// nothing, and refuses frames whose lengths run past the end.
func TestSplitUserBroadcast(t *testing.T) {
	frame, err := phx.EncodeUserBroadcast("realtime:room:a", "tick", []byte(`{"m":1}`), phx.EncodingJSON, []byte(`{"t":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := phx.SplitUserBroadcast(frame)
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Topic) != "realtime:room:a" || string(b.Event) != "tick" || string(b.Meta) != `{"m":1}` || b.Enc != phx.EncodingJSON || string(b.Payload) != `{"t":1}` {
		t.Fatalf("split %+v", b)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = phx.SplitUserBroadcast(frame) }); n != 0 {
		t.Fatalf("%.0f allocations per split", n)
	}
	for _, bad := range [][]byte{nil, {4, 1, 1}, {4, 200, 1, 0, 1, 'a'}, {3, 0, 0, 0, 0, 0, 1}} {
		if _, err := phx.SplitUserBroadcast(bad); !errors.Is(err, phx.ErrMalformedFrame) {
			t.Errorf("% x: %v, want ErrMalformedFrame", bad, err)
		}
	}
}
