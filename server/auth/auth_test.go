package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/watchium/watchium-tui/server/store"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

func newTestService(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Store = st
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// call does one request and decodes the JSON answer.
func call(t *testing.T, method, url, bearer, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: HTTP %d, body not JSON: %v", method, url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out
}

func wantError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error_code"] != wantCode || body["code"] != float64(wantStatus) || body["msg"] == "" {
		t.Fatalf("got HTTP %d %v, want %d with error_code %q in Supabase Auth's shape", status, body, wantStatus, wantCode)
	}
}

func TestAnonymousSignUpIssuesSupabaseShapedTokens(t *testing.T) {
	srv := newTestService(t, Config{})
	// supabase-js signInAnonymously() sends this body; an empty body works too.
	for _, body := range []string{`{"data":{},"gotrue_meta_security":{}}`, ``} {
		status, resp := call(t, "POST", srv.URL+"/auth/v1/signup", "", body)
		if status != 200 {
			t.Fatalf("signup with %q: HTTP %d %v", body, status, resp)
		}
		for _, k := range []string{"access_token", "refresh_token", "token_type", "expires_in", "expires_at", "user"} {
			if _, ok := resp[k]; !ok {
				t.Fatalf("response has no %q: %v", k, resp)
			}
		}
		user := resp["user"].(map[string]any)
		if user["is_anonymous"] != true || user["aud"] != "authenticated" || user["role"] != "authenticated" {
			t.Fatalf("user: %v", user)
		}
		claims, err := NewVerifier(testSecret, "").Verify(resp["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != user["id"] || claims.Role != "authenticated" || !claims.IsAnonymous || claims.SessionID == "" ||
			claims.Audience[0] != "authenticated" || claims.IssuedAt == nil || claims.UserMetadata == nil {
			t.Fatalf("claims: %+v", claims)
		}
	}
}

func TestSignUpWithMetadataAndUpdateUser(t *testing.T) {
	srv := newTestService(t, Config{})
	_, resp := call(t, "POST", srv.URL+"/auth/v1/signup", "", `{"data":{"name":"ana"}}`)
	tok := resp["access_token"].(string)
	if name := resp["user"].(map[string]any)["user_metadata"].(map[string]any)["name"]; name != "ana" {
		t.Fatalf("metadata at sign-up: %v", resp["user"])
	}
	status, user := call(t, "PUT", srv.URL+"/auth/v1/user", tok, `{"data":{"name":"bob","avatar_url":"https://x/a.png"}}`)
	if status != 200 || user["user_metadata"].(map[string]any)["name"] != "bob" || user["user_metadata"].(map[string]any)["avatar_url"] == nil {
		t.Fatalf("update: HTTP %d %v", status, user)
	}
	status, user = call(t, "GET", srv.URL+"/auth/v1/user", tok, "")
	if status != 200 || user["user_metadata"].(map[string]any)["name"] != "bob" {
		t.Fatalf("get after update: HTTP %d %v", status, user)
	}
	status, body := call(t, "PUT", srv.URL+"/auth/v1/user", tok, `{"app_metadata":{"role":"admin"}}`)
	wantError(t, status, body, 403, "not_admin")
	status, body = call(t, "PUT", srv.URL+"/auth/v1/user", tok, `{"data":{"x":"`+strings.Repeat("y", 5000)+`"}}`)
	wantError(t, status, body, 400, "validation_failed")
	status, body = call(t, "PUT", srv.URL+"/auth/v1/user", tok, `{"data":`)
	wantError(t, status, body, 400, "bad_json")
}

func TestRefreshRotatesTokens(t *testing.T) {
	srv := newTestService(t, Config{})
	_, first := call(t, "POST", srv.URL+"/auth/v1/signup", "", `{}`)
	r1 := first["refresh_token"].(string)
	url := srv.URL + "/auth/v1/token?grant_type=refresh_token"
	status, second := call(t, "POST", url, "", `{"refresh_token":"`+r1+`"}`)
	if status != 200 {
		t.Fatalf("refresh: HTTP %d %v", status, second)
	}
	r2 := second["refresh_token"].(string)
	if r2 == r1 || second["access_token"] == "" || second["user"].(map[string]any)["id"] != first["user"].(map[string]any)["id"] {
		t.Fatalf("refresh did not rotate: %v", second)
	}
	// The spent token again within the reuse window: the current one back.
	status, again := call(t, "POST", url, "", `{"refresh_token":"`+r1+`"}`)
	if status != 200 || again["refresh_token"] != r2 {
		t.Fatalf("reuse within the window: HTTP %d %v, want the current token %s", status, again, r2)
	}
	status, third := call(t, "POST", url, "", `{"refresh_token":"`+r2+`"}`)
	if status != 200 || third["refresh_token"] == r2 {
		t.Fatalf("second rotation: HTTP %d %v", status, third)
	}
	status, body := call(t, "POST", url, "", `{"refresh_token":"nonsense"}`)
	wantError(t, status, body, 400, "refresh_token_not_found")
	status, body = call(t, "POST", url, "", `{}`)
	wantError(t, status, body, 400, "validation_failed")
	status, body = call(t, "POST", srv.URL+"/auth/v1/token?grant_type=magic", "", `{}`)
	wantError(t, status, body, 400, "invalid_credentials")
}

func TestRefreshTokenReplayedLaterSignsOutTheSession(t *testing.T) {
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	u, _, err := st.CreateUser(ctx, true, nil, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, got, err := st.RotateRefreshToken(ctx, "r1", "r2", 0); err != nil || got != "r2" {
		t.Fatalf("rotate: %q %v", got, err)
	}
	// Reuse window 0: presenting r1 again is a replay.
	if _, _, _, err := st.RotateRefreshToken(ctx, "r1", "r3", 0); !errors.Is(err, store.ErrRefreshTokenReused) {
		t.Fatalf("replayed token: %v, want ErrRefreshTokenReused", err)
	}
	// The whole session is gone, so the thief's r2 is dead too.
	if _, _, _, err := st.RotateRefreshToken(ctx, "r2", "r4", 0); !errors.Is(err, store.ErrRefreshTokenNotFound) {
		t.Fatalf("token of the revoked session: %v", err)
	}
	if _, err := st.User(ctx, u.ID); err != nil {
		t.Fatalf("the user survives: %v", err)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	srv := newTestService(t, Config{})
	_, resp := call(t, "POST", srv.URL+"/auth/v1/signup", "", `{}`)
	tok, refresh := resp["access_token"].(string), resp["refresh_token"].(string)
	if status, body := call(t, "POST", srv.URL+"/auth/v1/logout?scope=sideways", tok, ""); status != 400 {
		t.Fatalf("bad scope: HTTP %d %v", status, body)
	}
	if status, body := call(t, "POST", srv.URL+"/auth/v1/logout", tok, ""); status != 204 {
		t.Fatalf("logout: HTTP %d %v", status, body)
	}
	status, body := call(t, "POST", srv.URL+"/auth/v1/token?grant_type=refresh_token", "", `{"refresh_token":"`+refresh+`"}`)
	wantError(t, status, body, 400, "refresh_token_not_found")
	status, body = call(t, "GET", srv.URL+"/auth/v1/user", tok, "")
	wantError(t, status, body, 403, "session_not_found")
}

func TestUserEndpointRefusesBadTokens(t *testing.T) {
	srv := newTestService(t, Config{})
	_, resp := call(t, "POST", srv.URL+"/auth/v1/signup", "", `{}`)
	good := resp["access_token"].(string)
	status, body := call(t, "GET", srv.URL+"/auth/v1/user", "", "")
	wantError(t, status, body, 401, "no_authorization")
	for name, tok := range badTokens(t, good) {
		t.Log(name)
		status, body := call(t, "GET", srv.URL+"/auth/v1/user", tok, "")
		wantError(t, status, body, 403, "bad_jwt")
	}
}

func TestAnonymousSignInsOffAndRateLimit(t *testing.T) {
	off := newTestService(t, Config{NoAnonymousSignIns: true})
	status, body := call(t, "POST", off.URL+"/auth/v1/signup", "", `{}`)
	wantError(t, status, body, 422, "anonymous_provider_disabled")

	limited := newTestService(t, Config{SignUpsPerHour: 3})
	for i := range 3 {
		if status, body := call(t, "POST", limited.URL+"/auth/v1/signup", "", `{}`); status != 200 {
			t.Fatalf("sign-up %d: HTTP %d %v", i+1, status, body)
		}
	}
	status, body = call(t, "POST", limited.URL+"/auth/v1/signup", "", `{}`)
	wantError(t, status, body, 429, "over_request_rate_limit")

	status, body = call(t, "POST", limited.URL+"/auth/v1/otp", "", `{"email":"a@b.c"}`)
	wantError(t, status, body, 422, "email_provider_disabled")
	status, body = call(t, "POST", limited.URL+"/auth/v1/signup", "", `{"email":"a@b.c","password":"pw"}`)
	wantError(t, status, body, 400, "email_provider_disabled")
}

func TestLimiterRefills(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(2, time.Hour)
	l.now = func() time.Time { return now }
	if !l.allow("a") || !l.allow("a") || l.allow("a") {
		t.Fatal("bucket of 2 should allow exactly 2")
	}
	if !l.allow("b") {
		t.Fatal("another IP has its own bucket")
	}
	now = now.Add(30 * time.Minute)
	if !l.allow("a") || l.allow("a") {
		t.Fatal("half an hour refills one of two")
	}
}

// badTokens derives tokens that must all fail verification from a good one.
func badTokens(t *testing.T, good string) map[string]string {
	t.Helper()
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	sign := func(c jwt.MapClaims, secret []byte) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range claims {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	// Tampered: the payload says another user, the signature is the old one.
	forged, _ := json.Marshal(with("sub", "00000000-0000-0000-0000-000000000001"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return map[string]string{
		"tampered":     parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2],
		"expired":      sign(with("exp", time.Now().Add(-time.Minute).Unix()), testSecret),
		"wrong secret": sign(jwt.MapClaims(claims), []byte("another-secret-another-secret-xx")),
		"wrong aud":    sign(with("aud", "somebody-else"), testSecret),
		"no exp":       sign(with("exp", nil), testSecret),
		"alg none":     none,
		"malformed":    "a.b.c",
	}
}

func TestVerifierRefusesBadTokens(t *testing.T) {
	v := NewVerifier(testSecret, "")
	good, err := v.Sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "7c2f6a1e-0000-4000-8000-000000000001", Audience: jwt.ClaimStrings{Audience}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Role:             "authenticated",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("good token: %v", err)
	}
	for name, tok := range badTokens(t, good) {
		_, err := v.Verify(tok)
		var te *TokenError
		if !errors.As(err, &te) {
			t.Errorf("%s: verified (err %v), want a TokenError", name, err)
			continue
		}
		if name == "expired" && (!te.Expired || !strings.HasPrefix(te.Error(), "Token has expired")) {
			t.Errorf("expired: %v", te)
		}
	}
	// No secret at all: nothing HS256 verifies.
	if _, err := NewVerifier(nil, "").Verify(good); err == nil {
		t.Error("a verifier without a secret accepted a token")
	}
}

func TestVerifierAcceptsES256AndRS256FromJWKS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": b64(pub[1:33]), "y": b64(pub[33:]),
	}, {
		"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig",
		"n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes()),
	}}})
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(jwks) }))
	defer keys.Close()
	claims := jwt.MapClaims{"sub": "7c2f6a1e-0000-4000-8000-000000000002", "aud": "authenticated", "role": "authenticated", "exp": time.Now().Add(time.Hour).Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(testSecret, keys.URL+"/auth/v1/.well-known/jwks.json")
	got, err := v.Verify(signed)
	if err != nil || got.Subject != claims["sub"] {
		t.Fatalf("ES256 token: %v %v", got, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ := tok.SignedString(other)
	if _, err := v.Verify(forged); err == nil {
		t.Fatal("an ES256 token signed by another key verified")
	}
	if _, err := NewVerifier(testSecret, "").Verify(signed); err == nil {
		t.Fatal("an ES256 token verified without a JWKS")
	}
	rs := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	rs.Header["kid"] = "r1"
	rsSigned, err := rs.SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(rsSigned); err != nil || got.Subject != claims["sub"] {
		t.Fatalf("RS256 token: %v %v", got, err)
	}
	// A kid naming the RSA key on an ES256 token must not verify.
	tok.Header["kid"] = "r1"
	mixed, _ := tok.SignedString(key)
	if _, err := v.Verify(mixed); err == nil {
		t.Fatal("an ES256 token verified with an RS256 key id")
	}
}

func TestSecretIsGeneratedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSecret(dir)
	if err != nil || !bytes.Equal(a, b) || len(a) < 32 {
		t.Fatalf("second load: %q %v, first %q", b, err, a)
	}
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode: %v %v", fi.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(dir); err == nil {
		t.Fatal("a too-short secret was accepted")
	}
}
