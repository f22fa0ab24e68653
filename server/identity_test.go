package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

var idSecret = []byte("identity-test-secret-0123456789abcdef")

// startWithAuth runs a server with the auth service, its tokens living
// lifetime.
func startWithAuth(t *testing.T, anonKey string, lifetime time.Duration) *tserver {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := auth.New(auth.Config{Store: st, Secret: idSecret, TokenLifetime: lifetime, SignUpsPerHour: -1})
	return start(t, server.Config{AnonKey: anonKey, Store: st, Auth: svc})
}

type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	User    struct {
		ID string `json:"id"`
	} `json:"user"`
}

func httpJSON(t *testing.T, method, url, apikey, bearer, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if apikey != "" {
		req.Header.Set("apikey", apikey)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func signUp(t *testing.T, ts *tserver, apikey string) tokens {
	t.Helper()
	status, data := httpJSON(t, "POST", ts.URL+"/auth/v1/signup", apikey, "", `{"data":{"name":"ana"}}`)
	var tk tokens
	if status != 200 || json.Unmarshal(data, &tk) != nil || tk.Access == "" {
		t.Fatalf("signup: HTTP %d %s", status, data)
	}
	return tk
}

func refresh(t *testing.T, ts *tserver, apikey, refreshToken string) tokens {
	t.Helper()
	status, data := httpJSON(t, "POST", ts.URL+"/auth/v1/token?grant_type=refresh_token", apikey, "", `{"refresh_token":"`+refreshToken+`"}`)
	var tk tokens
	if status != 200 || json.Unmarshal(data, &tk) != nil || tk.Access == "" {
		t.Fatalf("refresh: HTTP %d %s", status, data)
	}
	return tk
}

// forge returns tokens derived from good that must all be refused.
func forge(t *testing.T, good string) map[string]string {
	t.Helper()
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(good, &claims); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range claims {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	sign := func(c jwt.MapClaims, secret []byte) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(good, ".")
	other := strings.Split(sign(with("sub", "00000000-0000-4000-8000-00000000beef"), []byte("x")), ".")
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return map[string]string{
		"tampered":     parts[0] + "." + other[1] + "." + parts[2],
		"expired":      sign(with("exp", time.Now().Add(-time.Minute).Unix()), idSecret),
		"wrong secret": sign(claims, []byte("not-the-secret-not-the-secret-xx")),
		"wrong aud":    sign(with("aud", "elsewhere"), idSecret),
		"alg none":     none,
	}
}

func joinWithToken(c *client, topic, token string) (string, json.RawMessage) {
	c.t.Helper()
	ref := c.nextRef()
	payload := `{"config":{"broadcast":{"self":true,"ack":true}}`
	if token != "" {
		payload += `,"access_token":"` + token + `"`
	}
	c.sendText(c.frame(ref, ref, topic, "phx_join", payload+"}"))
	st, resp := c.reply(ref)
	if st == "ok" {
		c.joins[topic] = ref
	}
	return st, resp
}

func TestJoinVerifiesTheAccessToken(t *testing.T) {
	ts := startWithAuth(t, "", time.Hour)
	tk := signUp(t, ts, "")
	c := dial(t, ts, "1.0.0")
	if st, resp := joinWithToken(c, "realtime:room:ok", tk.Access); st != "ok" {
		t.Fatalf("join with a good token: %s %s", st, resp)
	}
	if st, resp := joinWithToken(c, "realtime:room:anon", ""); st != "ok" {
		t.Fatalf("join without a token (anon role): %s %s", st, resp)
	}
	for name, bad := range forge(t, tk.Access) {
		st, resp := joinWithToken(c, "realtime:room:"+strings.ReplaceAll(name, " ", "-"), bad)
		var r struct{ Reason string }
		_ = json.Unmarshal(resp, &r)
		if st != "error" || !strings.Contains(r.Reason, "JWT") && !strings.Contains(r.Reason, "Jwt") {
			t.Errorf("%s token: join %s %s, want an error naming the JWT", name, st, resp)
		}
		if name == "expired" && !strings.HasPrefix(r.Reason, "InvalidJWTToken: Token has expired") {
			t.Errorf("expired token reason %q", r.Reason)
		}
	}
	stillWorks(t, ts, "realtime:room:ok")
}

func TestOpaqueTokenIsTheAnonKey(t *testing.T) {
	ts := startWithAuth(t, "k3y", time.Hour)
	ws, _, err := dialErr(ts.wsURL("1.0.0", url.Values{"apikey": {"k3y"}}))
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, ws, "1.0.0")
	if st, resp := joinWithToken(c, "realtime:room:a", "k3y"); st != "ok" {
		t.Fatalf("the anon key as access_token: %s %s", st, resp)
	}
	if st, _ := joinWithToken(c, "realtime:room:b", "not-the-key"); st != "error" {
		t.Fatal("a wrong opaque token joined")
	}
}

// systemThenClose waits for the system error and phx_close of topic.
func systemThenClose(c *client, topic string) string {
	c.t.Helper()
	sys := c.waitFor("system message on "+topic, func(m msg) bool { return m.Event == "system" && m.Topic == topic })
	var p struct{ Status, Message, Extension string }
	_ = json.Unmarshal(sys.Payload, &p)
	if p.Status != "error" || p.Extension != "system" {
		c.t.Fatalf("system message %s", sys.Payload)
	}
	c.waitFor("phx_close on "+topic, func(m msg) bool { return m.Event == "phx_close" && m.Topic == topic })
	return p.Message
}

func TestChannelClosesWhenItsTokenExpiresUnlessRefreshed(t *testing.T) {
	ts := startWithAuth(t, "", 2*time.Second)
	tk := signUp(t, ts, "")
	c := dial(t, ts, "2.0.0")
	for _, topic := range []string{"realtime:room:stale", "realtime:room:fresh"} {
		if st, resp := joinWithToken(c, topic, tk.Access); st != "ok" {
			t.Fatalf("join %s: %s %s", topic, st, resp)
		}
	}
	// Only "fresh" gets a refreshed token (realtime-js setAuth). The refresh
	// endpoint would issue one expiring in the same second as the first, so
	// the test signs a longer-lived one for the same user and session.
	next := refresh(t, ts, "", tk.Refresh)
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(next.Access, &claims); err != nil {
		t.Fatal(err)
	}
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	longer, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(idSecret)
	if err != nil {
		t.Fatal(err)
	}
	c.push("realtime:room:fresh", "access_token", `{"access_token":"`+longer+`"}`)
	if msg := systemThenClose(c, "realtime:room:stale"); !strings.HasPrefix(msg, "Token has expired") {
		t.Fatalf("expiry message %q", msg)
	}
	// "stale" has expired, so the first token has; "fresh" still works.
	ref := c.push("realtime:room:fresh", "broadcast", bcast("ping", `{}`))
	if st, resp := c.reply(ref); st != "ok" {
		t.Fatalf("broadcast on the refreshed channel: %s %s", st, resp)
	}
	for _, m := range c.sync() {
		if m.Topic == "realtime:room:fresh" && (m.Event == "system" || m.Event == "phx_close") {
			t.Fatalf("refreshed channel was closed: %s", m)
		}
	}
}

func TestBadTokenPushClosesTheChannel(t *testing.T) {
	ts := startWithAuth(t, "", time.Hour)
	tk := signUp(t, ts, "")
	c := dial(t, ts, "1.0.0")
	if st, resp := joinWithToken(c, "realtime:room:x", tk.Access); st != "ok" {
		t.Fatalf("join: %s %s", st, resp)
	}
	c.push("realtime:room:x", "access_token", `{"access_token":"`+forge(t, tk.Access)["wrong secret"]+`"}`)
	if msg := systemThenClose(c, "realtime:room:x"); !strings.Contains(msg, "invalid access token") {
		t.Fatalf("message %q", msg)
	}
	other := signUp(t, ts, "")
	if st, _ := joinWithToken(c, "realtime:room:y", tk.Access); st != "ok" {
		t.Fatal("rejoin")
	}
	c.push("realtime:room:y", "access_token", `{"access_token":"`+other.Access+`"}`)
	if msg := systemThenClose(c, "realtime:room:y"); !strings.Contains(msg, "another user") {
		t.Fatalf("message %q", msg)
	}
}

func TestRESTAndFunctionsVerifyTheBearer(t *testing.T) {
	ts := startWithAuth(t, "anon", time.Hour)
	tk := signUp(t, ts, "anon")
	bad := forge(t, tk.Access)
	rest := ts.URL + "/rest/v1/comments?room_id=eq.r"
	if status, data := httpJSON(t, "GET", rest, "anon", tk.Access, ""); status != 200 {
		t.Fatalf("REST with a good token: %d %s", status, data)
	}
	if status, data := httpJSON(t, "GET", rest, "anon", "anon", ""); status != 200 {
		t.Fatalf("REST with the anon key as bearer: %d %s", status, data)
	}
	for name, tok := range bad {
		status, data := httpJSON(t, "GET", rest, "anon", tok, "")
		var e struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Details *string `json:"details"`
		}
		if status != 401 || json.Unmarshal(data, &e) != nil || !strings.HasPrefix(e.Code, "PGRST30") || e.Message == "" {
			t.Errorf("REST with %s token: %d %s, want 401 in PostgREST's shape", name, status, data)
		}
		if name == "expired" && (e.Code != "PGRST303" || e.Message != "JWT expired") {
			t.Errorf("expired: %s", data)
		}
	}
	// Signed in, one writes rows only in one's own name.
	own := `{"room_id":"r","user_id":"` + tk.User.ID + `","username":"ana","content":"hi"}`
	if status, data := httpJSON(t, "POST", ts.URL+"/rest/v1/comments", "anon", tk.Access, own); status != 201 {
		t.Errorf("comment as oneself: %d %s", status, data)
	}
	forged := `{"room_id":"r","user_id":"someone-else","username":"ana","content":"hi"}`
	if status, data := httpJSON(t, "POST", ts.URL+"/rest/v1/comments", "anon", tk.Access, forged); status != 403 || !strings.Contains(string(data), "42501") {
		t.Errorf("comment as someone else: %d %s", status, data)
	}
	fn := ts.URL + "/functions/v1/sync/control"
	body := func(user string) string {
		return `{"room_id":"r","user_id":"` + user + `","action":"pause","current_time":1}`
	}
	if status, data := httpJSON(t, "POST", fn, "anon", bad["expired"], body(tk.User.ID)); status != 401 || !strings.Contains(string(data), "Invalid JWT") {
		t.Errorf("function with an expired token: %d %s", status, data)
	}
	if status, data := httpJSON(t, "POST", fn, "anon", tk.Access, body("someone-else")); status != 403 {
		t.Errorf("function acting for another user: %d %s", status, data)
	}
	if status, data := httpJSON(t, "POST", fn, "anon", tk.Access, body(tk.User.ID)); status != 200 {
		t.Errorf("function as oneself: %d %s", status, data)
	}
	// HTTP broadcasts check the bearer too.
	bc := ts.URL + "/realtime/v1/api/broadcast"
	msgs := `{"messages":[{"topic":"r","event":"e","payload":{}}]}`
	if status, data := httpJSON(t, "POST", bc, "anon", bad["wrong secret"], msgs); status != 401 {
		t.Errorf("HTTP broadcast with a forged token: %d %s", status, data)
	}
	if status, data := httpJSON(t, "POST", bc, "anon", tk.Access, msgs); status/100 != 2 {
		t.Errorf("HTTP broadcast with a good token: %d %s", status, data)
	}
	// The auth endpoints sit behind the API key, as behind Supabase's gateway.
	if status, data := httpJSON(t, "POST", ts.URL+"/auth/v1/signup", "", "", `{}`); status != 401 {
		t.Errorf("signup without the API key: %d %s", status, data)
	}
}
