// Package auth is the embedded server's identity: a subset of Supabase
// Auth (GoTrue) under /auth/v1 — anonymous sign-up, rotating refresh
// tokens, the user and its metadata, logout — and the verification of
// Supabase access tokens (HS256 with the project secret, ES256/RS256 from
// a JWKS) that the realtime, REST and function endpoints share. Requests,
// responses and errors have Supabase Auth's shapes, so supabase-js and our
// own client work against either.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/watchium/watchium-tui/server/store"
)

// Config tunes the auth server. Zero values mean the defaults.
type Config struct {
	Store *store.Store
	// Secret signs and verifies HS256 tokens (Supabase's JWT secret).
	Secret []byte
	// JWKSURL, when set, also accepts ES256/RS256 tokens signed by the
	// keys published there.
	JWKSURL string
	// TokenLifetime is how long an access token lives (default 1 h, as
	// Supabase's GOTRUE_JWT_EXP).
	TokenLifetime time.Duration
	// NoAnonymousSignIns refuses POST /signup without credentials.
	NoAnonymousSignIns bool
	// SignUpsPerHour bounds sign-ups per client IP (default 30, Supabase's
	// default for anonymous users); a negative value disables the limit.
	SignUpsPerHour int
	// Issuer is the iss claim; Supabase Auth leaves it out unless
	// GOTRUE_JWT_ISSUER is set, and so do we by default.
	Issuer string
	Logger *slog.Logger
}

// refreshReuseWindow lets a refresh token that was just rotated be
// presented again (two processes refreshing one session at once) without
// being treated as replayed; Supabase's default is 10 s.
const refreshReuseWindow = 10 * time.Second

// Service serves /auth/v1 and verifies tokens.
type Service struct {
	cfg      Config
	log      *slog.Logger
	verifier *Verifier
	signups  *limiter
	mux      *http.ServeMux
}

// New returns the auth service for cfg.
func New(cfg Config) *Service {
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.SignUpsPerHour == 0 {
		cfg.SignUpsPerHour = 30
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: log, verifier: NewVerifier(cfg.Secret, cfg.JWKSURL)}
	if cfg.SignUpsPerHour > 0 {
		s.signups = newLimiter(cfg.SignUpsPerHour, time.Hour)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/v1/health", s.serveHealth)
	mux.HandleFunc("GET /auth/v1/settings", s.serveSettings)
	mux.HandleFunc("POST /auth/v1/signup", s.serveSignup)
	mux.HandleFunc("POST /auth/v1/token", s.serveToken)
	mux.HandleFunc("GET /auth/v1/user", s.serveGetUser)
	mux.HandleFunc("PUT /auth/v1/user", s.serveUpdateUser)
	mux.HandleFunc("POST /auth/v1/logout", s.serveLogout)
	mux.HandleFunc("POST /auth/v1/otp", s.serveNoMail)
	mux.HandleFunc("POST /auth/v1/verify", s.serveNoMail)
	mux.HandleFunc("/auth/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such auth endpoint on this server: "+r.Method+" "+r.URL.Path+
			" (it serves signup, token?grant_type=refresh_token, user, logout)")
	})
	s.mux = mux
	return s
}

// Verifier is the token verifier the other endpoints share.
func (s *Service) Verifier() *Verifier { return s.verifier }

// TokenLifetime is how long the access tokens this service issues live.
func (s *Service) TokenLifetime() time.Duration { return s.cfg.TokenLifetime }

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// writeError answers as Supabase Auth does: {"code", "error_code", "msg"}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "error_code": code, "msg": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// readBody decodes a JSON body into v; an empty body is an empty object.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "request_entity_too_large", "Request body too large (max 65536 bytes)")
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "Could not parse request body as JSON: "+err.Error())
		return false
	}
	return true
}

func (s *Service) internal(w http.ResponseWriter, err error) {
	s.log.Error("auth: internal error", "err", err)
	writeError(w, http.StatusInternalServerError, "unexpected_failure", "Internal Server Error")
}

func (s *Service) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"version": "watchium", "name": "GoTrue", "description": "watchium's embedded subset of Supabase Auth"})
}

func (s *Service) serveSettings(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"external":           map[string]bool{"anonymous_users": !s.cfg.NoAnonymousSignIns, "email": false, "phone": false},
		"disable_signup":     s.cfg.NoAnonymousSignIns,
		"mailer_autoconfirm": false,
		"phone_autoconfirm":  false,
		"sms_provider":       "",
		"saml_enabled":       false,
	})
}

// userJSON is a user as Supabase Auth returns it.
type userJSON struct {
	ID           string         `json:"id"`
	Aud          string         `json:"aud"`
	Role         string         `json:"role"`
	Email        string         `json:"email"`
	Phone        string         `json:"phone"`
	LastSignInAt *time.Time     `json:"last_sign_in_at,omitempty"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	Identities   []any          `json:"identities"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	IsAnonymous  bool           `json:"is_anonymous"`
}

func toUserJSON(u store.User) userJSON {
	j := userJSON{
		ID: u.ID, Aud: Audience, Role: "authenticated",
		AppMetadata: map[string]any{}, UserMetadata: u.UserMetadata, Identities: []any{},
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, IsAnonymous: u.IsAnonymous,
	}
	if !u.LastSignInAt.IsZero() {
		t := u.LastSignInAt
		j.LastSignInAt = &t
	}
	return j
}

// tokenResponse is Supabase Auth's AccessTokenResponse.
type tokenResponse struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	ExpiresAt    int64    `json:"expires_at"`
	RefreshToken string   `json:"refresh_token"`
	User         userJSON `json:"user"`
}

func (s *Service) issue(u store.User, sess store.Session, refresh string, signedInAt time.Time) (tokenResponse, error) {
	now := time.Now()
	exp := now.Add(s.cfg.TokenLifetime)
	method := "anonymous"
	if !u.IsAnonymous {
		method = "otp"
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.cfg.Issuer, Subject: u.ID, Audience: jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now),
		},
		AppMetadata: map[string]any{}, UserMetadata: u.UserMetadata,
		Role: "authenticated", AAL: "aal1",
		AMR:       []AMREntry{{Method: method, Timestamp: signedInAt.Unix()}},
		SessionID: sess.ID, IsAnonymous: u.IsAnonymous,
	}
	tok, err := s.verifier.Sign(claims)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{
		AccessToken: tok, TokenType: "bearer", ExpiresIn: int(s.cfg.TokenLifetime.Seconds()), ExpiresAt: exp.Unix(),
		RefreshToken: refresh, User: toUserJSON(u),
	}, nil
}

// newRefreshToken is an opaque random token; only its holder can refresh.
func newRefreshToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Service) serveSignup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string         `json:"email"`
		Phone    string         `json:"phone"`
		Password string         `json:"password"`
		Data     map[string]any `json:"data"`
	}
	if !readBody(w, r, &req) {
		return
	}
	if req.Email != "" || req.Phone != "" || req.Password != "" {
		writeError(w, http.StatusBadRequest, "email_provider_disabled", "Email signups are disabled")
		return
	}
	if s.cfg.NoAnonymousSignIns {
		writeError(w, http.StatusUnprocessableEntity, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
		return
	}
	if s.signups != nil && !s.signups.allow(clientIP(r)) {
		writeError(w, http.StatusTooManyRequests, "over_request_rate_limit", "Request rate limit reached")
		return
	}
	refresh := newRefreshToken()
	u, sess, err := s.cfg.Store.CreateUser(r.Context(), true, req.Data, refresh)
	if err != nil {
		s.internal(w, err)
		return
	}
	resp, err := s.issue(u, sess, refresh, time.Now())
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, resp)
}

func (s *Service) serveToken(w http.ResponseWriter, r *http.Request) {
	if gt := r.URL.Query().Get("grant_type"); gt != "refresh_token" {
		if gt == "password" || gt == "pkce" || gt == "id_token" {
			writeError(w, http.StatusBadRequest, "validation_failed", "grant_type "+gt+" is not supported by this server (only refresh_token)")
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_credentials", "unsupported_grant_type")
		return
	}
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !readBody(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, "validation_failed", "Refresh token is not valid")
		return
	}
	u, sess, issued, err := s.cfg.Store.RotateRefreshToken(r.Context(), req.RefreshToken, newRefreshToken(), refreshReuseWindow)
	switch {
	case errors.Is(err, store.ErrRefreshTokenNotFound):
		writeError(w, http.StatusBadRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
		return
	case errors.Is(err, store.ErrRefreshTokenReused):
		writeError(w, http.StatusBadRequest, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	resp, err := s.issue(u, sess, issued, u.LastSignInAt)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, resp)
}

// authenticate reads the bearer token of a request to /user or /logout
// and loads its user, answering with Supabase Auth's errors.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (*Claims, store.User, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		writeError(w, http.StatusUnauthorized, "no_authorization", "This endpoint requires a valid Bearer token")
		return nil, store.User{}, false
	}
	claims, err := s.verifier.Verify(strings.TrimSpace(tok))
	if err != nil {
		writeError(w, http.StatusForbidden, "bad_jwt", "invalid JWT: unable to parse or verify signature, "+err.Error())
		return nil, store.User{}, false
	}
	if claims.Subject == "" {
		writeError(w, http.StatusForbidden, "bad_jwt", "invalid claim: missing sub claim")
		return nil, store.User{}, false
	}
	u, err := s.cfg.Store.User(r.Context(), claims.Subject)
	if errors.Is(err, store.ErrUserNotFound) {
		writeError(w, http.StatusForbidden, "user_not_found", "User from sub claim in JWT does not exist")
		return nil, store.User{}, false
	}
	if err != nil {
		s.internal(w, err)
		return nil, store.User{}, false
	}
	if claims.SessionID != "" {
		exists, err := s.cfg.Store.SessionExists(r.Context(), claims.SessionID)
		if err != nil {
			s.internal(w, err)
			return nil, store.User{}, false
		}
		if !exists {
			writeError(w, http.StatusForbidden, "session_not_found", "Session from session_id claim in JWT does not exist")
			return nil, store.User{}, false
		}
	}
	return claims, u, true
}

func (s *Service) serveGetUser(w http.ResponseWriter, r *http.Request) {
	if _, u, ok := s.authenticate(w, r); ok {
		writeJSON(w, toUserJSON(u))
	}
}

// maxMetadataBytes bounds user_metadata: it travels in every token.
const maxMetadataBytes = 4 << 10

func (s *Service) serveUpdateUser(w http.ResponseWriter, r *http.Request) {
	claims, _, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	var req struct {
		Email    string         `json:"email"`
		Phone    string         `json:"phone"`
		Password string         `json:"password"`
		Data     map[string]any `json:"data"`
		AppData  map[string]any `json:"app_metadata"`
	}
	if !readBody(w, r, &req) {
		return
	}
	switch {
	case req.AppData != nil:
		writeError(w, http.StatusForbidden, "not_admin", "Updating app_metadata requires admin privileges")
		return
	case req.Email != "" || req.Phone != "" || req.Password != "":
		writeError(w, http.StatusUnprocessableEntity, "email_provider_disabled", "Email logins are disabled: this server changes only user metadata (data)")
		return
	}
	if raw, _ := json.Marshal(req.Data); len(raw) > maxMetadataBytes {
		writeError(w, http.StatusBadRequest, "validation_failed", fmt.Sprintf("user metadata over %d bytes", maxMetadataBytes))
		return
	}
	u, err := s.cfg.Store.UpdateUserMetadata(r.Context(), claims.Subject, req.Data)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, toUserJSON(u))
}

func (s *Service) serveLogout(w http.ResponseWriter, r *http.Request) {
	scope := r.URL.Query().Get("scope")
	switch scope {
	case "", "global", "local", "others":
	default:
		writeError(w, http.StatusBadRequest, "validation_failed", fmt.Sprintf("Unsupported logout scope %q", scope))
		return
	}
	claims, _, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.Logout(r.Context(), claims.Subject, claims.SessionID, scope); err != nil {
		s.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveNoMail answers the email one-time-code endpoints: the embedded
// server sends no mail, so it has no email sign-in.
func (s *Service) serveNoMail(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusUnprocessableEntity, "email_provider_disabled",
		"Email logins are disabled: this server sends no mail; sign in anonymously (watchium-tui login)")
}

// DeriveKey is a key for purpose derived from the JWT secret (HMAC-SHA256),
// so other secrets of the server last as long as it and need no file.
func (s *Service) DeriveKey(purpose string) []byte {
	mac := hmac.New(sha256.New, s.cfg.Secret)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}
