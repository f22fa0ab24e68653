package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the aud of every user token Supabase Auth issues.
const Audience = "authenticated"

// AMREntry is one authentication method of a session, as Supabase Auth
// lists them in the amr claim.
type AMREntry struct {
	Method    string `json:"method"`
	Timestamp int64  `json:"timestamp"`
}

// Claims are the claims of a Supabase access token.
type Claims struct {
	jwt.RegisteredClaims
	Email        string         `json:"email"`
	Phone        string         `json:"phone"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	Role         string         `json:"role"`
	AAL          string         `json:"aal,omitempty"`
	AMR          []AMREntry     `json:"amr,omitempty"`
	SessionID    string         `json:"session_id,omitempty"`
	IsAnonymous  bool           `json:"is_anonymous"`
}

// UserID is the verified user id (the sub claim); "" for the anon and
// service roles, whose keys name no user.
func (c *Claims) UserID() string {
	if c == nil {
		return ""
	}
	return c.Subject
}

// DisplayName is the user's chosen name from user_metadata, if any.
func (c *Claims) DisplayName() string {
	if c == nil {
		return ""
	}
	for _, k := range []string{"name", "username", "full_name"} {
		if s, ok := c.UserMetadata[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// TokenError is a token that failed verification.
type TokenError struct {
	// Expired is set when the only fault is the expiry; ExpiredFor says
	// how long ago.
	Expired    bool
	ExpiredFor time.Duration
	// Malformed is set when the token is not a JWT at all.
	Malformed bool
	Err       error
}

func (e *TokenError) Error() string {
	switch {
	case e.Expired:
		return fmt.Sprintf("Token has expired %d seconds ago", int(e.ExpiredFor.Seconds()))
	case e.Malformed:
		return "The token provided is not a valid JWT"
	}
	return e.Err.Error()
}

func (e *TokenError) Unwrap() error { return e.Err }

// LooksLikeJWT tells a JWT from an opaque API key: three base64url parts.
func LooksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

// Verifier checks access tokens: HS256 with the shared secret, and ES256
// or RS256 with the keys published at a JWKS URL (Supabase's asymmetric
// signing keys). Safe for concurrent use.
type Verifier struct {
	secret []byte
	jwks   *jwksCache
	now    func() time.Time
}

// NewVerifier verifies with secret and, when jwksURL is set, the keys
// published there.
func NewVerifier(secret []byte, jwksURL string) *Verifier {
	v := &Verifier{secret: secret, now: time.Now}
	if jwksURL != "" {
		v.jwks = &jwksCache{url: jwksURL, http: &http.Client{Timeout: 10 * time.Second}}
	}
	return v
}

// Verify checks token's signature, expiry and audience and returns its
// claims. alg "none" and algorithms other than HS256/ES256/RS256 fail.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if !LooksLikeJWT(token) {
		return nil, &TokenError{Malformed: true, Err: errors.New("not a JWT")}
	}
	var claims Claims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256", "ES256", "RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now),
	)
	_, err := parser.ParseWithClaims(token, &claims, v.key)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) && claims.ExpiresAt != nil {
			return nil, &TokenError{Expired: true, ExpiredFor: v.now().Sub(claims.ExpiresAt.Time), Err: err}
		}
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return nil, &TokenError{Malformed: true, Err: err}
		}
		return nil, &TokenError{Err: err}
	}
	if claims.Role == "" {
		return nil, &TokenError{Err: errors.New("Fields `role` and `exp` are required in JWT")}
	}
	// The project's anon and service keys carry no audience; user tokens
	// must be for Supabase's "authenticated" audience.
	if claims.Role != "anon" && claims.Role != "service_role" && !slices.Contains(claims.Audience, Audience) {
		return nil, &TokenError{Err: fmt.Errorf("token has invalid audience %v, want %q", []string(claims.Audience), Audience)}
	}
	if claims.Role == "authenticated" && claims.Subject == "" {
		return nil, &TokenError{Err: errors.New("token has no sub claim")}
	}
	return &claims, nil
}

func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case "HS256":
		if len(v.secret) == 0 {
			return nil, errors.New("this server has no JWT secret")
		}
		return v.secret, nil
	default:
		if v.jwks == nil {
			return nil, fmt.Errorf("%s tokens need serve --jwks-url", t.Method.Alg())
		}
		kid, _ := t.Header["kid"].(string)
		return v.jwks.key(kid, t.Method.Alg())
	}
}

// Sign signs claims with the HS256 secret. A single audience is written
// as a string, as Supabase Auth writes it (the library would write a list,
// and its switch for that is a package-wide variable).
func (v *Verifier) Sign(c Claims) (string, error) {
	if len(v.secret) == 0 {
		return "", errors.New("auth: no JWT secret to sign with")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	var m jwt.MapClaims
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	if len(c.Audience) == 1 {
		m["aud"] = c.Audience[0]
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString(v.secret)
}

// jwksRefetchEvery bounds how often an unknown kid makes us fetch the key
// set again, so a flood of forged kids cannot hammer the JWKS endpoint.
const jwksRefetchEvery = 30 * time.Second

type jwksCache struct {
	url  string
	http *http.Client

	mu      sync.Mutex
	keys    map[string]jwkKey
	fetched time.Time
}

type jwkKey struct {
	alg string
	pub any
}

func (c *jwksCache) key(kid, alg string) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[kid]
	if !ok && time.Since(c.fetched) > jwksRefetchEvery {
		c.fetched = time.Now()
		keys, err := fetchJWKS(c.http, c.url)
		if err != nil {
			return nil, err
		}
		c.keys = keys
		k, ok = keys[kid]
	}
	if !ok {
		return nil, fmt.Errorf("no key %q in %s", kid, c.url)
	}
	if k.alg != alg {
		return nil, fmt.Errorf("key %q is for %s, token says %s", kid, k.alg, alg)
	}
	return k.pub, nil
}

func fetchJWKS(hc *http.Client, url string) (map[string]jwkKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS from %s: HTTP %d", url, resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Crv, X, Y, N, E string
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("JWKS at %s: %w", url, err)
	}
	b64 := base64.RawURLEncoding.DecodeString
	keys := map[string]jwkKey{}
	for _, k := range set.Keys {
		switch k.Kty {
		case "EC":
			x, err1 := b64(k.X)
			y, err2 := b64(k.Y)
			if k.Crv != "P-256" || err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				continue
			}
			keys[k.Kid] = jwkKey{alg: "ES256", pub: pub}
		case "RSA":
			n, err1 := b64(k.N)
			e, err2 := b64(k.E)
			if err1 != nil || err2 != nil {
				continue
			}
			keys[k.Kid] = jwkKey{alg: "RS256", pub: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}}
		}
	}
	return keys, nil
}
