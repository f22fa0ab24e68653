// Package session signs the user in to a Supabase Auth server (a Supabase
// project's /auth/v1, or the embedded server's subset of it), keeps one
// session per server in the user's config directory, and refreshes the
// access token before it expires.
package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// User is the signed-in user as Supabase Auth describes it.
type User struct {
	ID           string         `json:"id"`
	IsAnonymous  bool           `json:"is_anonymous"`
	Email        string         `json:"email,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
}

// Name is the display name kept in the user's metadata, if any.
func (u User) Name() string {
	for _, k := range []string{"name", "username", "full_name"} {
		if s, ok := u.UserMetadata[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// Session is Supabase Auth's token response.
type Session struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
	User         User   `json:"user"`
}

// Expiry is when the access token stops working.
func (s Session) Expiry() time.Time { return time.Unix(s.ExpiresAt, 0) }

// Error is an error answer of the auth server.
type Error struct {
	Status  int
	Code    string // Supabase Auth's error_code, e.g. anonymous_provider_disabled
	Message string
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("auth server: %s (HTTP %d, %s)", e.Message, e.Status, e.Code)
	}
	return fmt.Sprintf("auth server: %s (HTTP %d)", e.Message, e.Status)
}

// HasCode reports whether err is an auth server error with code.
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// IsNotServed reports whether the server has no auth endpoints at all (an
// older embedded server, or a plain realtime server).
func IsNotServed(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound && e.Code != "user_not_found"
}

// IsRefused reports whether the server refused the credentials (401/403):
// an unknown, expired or foreign token, or an ended session.
func IsRefused(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// SessionEnded reports whether err means the session can no longer be
// refreshed and the user must sign in again.
func SessionEnded(err error) bool {
	for _, c := range []string{"refresh_token_not_found", "refresh_token_already_used", "session_not_found", "session_expired", "user_not_found", "user_banned"} {
		if HasCode(err, c) {
			return true
		}
	}
	return false
}

// Client calls a Supabase Auth server. Safe for concurrent use.
type Client struct {
	base   string // .../auth/v1
	apiKey string
	http   *http.Client
}

// NewClient talks to the auth server of the project at serverURL.
func NewClient(serverURL, apiKey string) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(serverURL))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("session: %q is not a server URL", serverURL)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("session: unsupported scheme %q", u.Scheme)
	}
	u.Path, u.RawQuery = "/auth/v1", ""
	return &Client{base: u.String(), apiKey: apiKey, http: &http.Client{Timeout: 15 * time.Second}}, nil
}

func (c *Client) do(ctx context.Context, method, path, bearer string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("apikey", c.apiKey)
	}
	if bearer == "" {
		bearer = c.apiKey
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return parseError(resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("auth server: unexpected answer to %s %s: %w", method, path, err)
	}
	return nil
}

// parseError reads Supabase Auth's error shapes: {"code","error_code","msg"},
// the OAuth {"error","error_description"}, and a gateway's {"message"}.
func parseError(status int, data []byte) error {
	var b struct {
		ErrorCode   string `json:"error_code"`
		Msg         string `json:"msg"`
		Message     string `json:"message"`
		Err         string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(data, &b)
	e := &Error{Status: status, Code: b.ErrorCode, Message: b.Msg}
	if e.Message == "" {
		e.Message = b.Message
	}
	if e.Message == "" {
		e.Message = b.Description
	}
	if e.Code == "" {
		e.Code = b.Err
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	return e
}

func (c *Client) session(ctx context.Context, path string, body any) (*Session, error) {
	var s Session
	if err := c.do(ctx, http.MethodPost, path, "", body, &s); err != nil {
		return nil, err
	}
	if s.AccessToken == "" || s.RefreshToken == "" || s.User.ID == "" {
		return nil, fmt.Errorf("auth server: %s answered without a session", path)
	}
	if s.ExpiresAt == 0 {
		s.ExpiresAt = time.Now().Unix() + int64(s.ExpiresIn)
	}
	return &s, nil
}

// SignInAnonymously creates an anonymous user, as supabase-js's
// signInAnonymously() does, with data as its metadata.
func (c *Client) SignInAnonymously(ctx context.Context, data map[string]any) (*Session, error) {
	if data == nil {
		data = map[string]any{}
	}
	return c.session(ctx, "/signup", map[string]any{"data": data, "gotrue_meta_security": map[string]any{}})
}

// Refresh trades a refresh token for a new session (the refresh token
// rotates: the old one is spent).
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Session, error) {
	return c.session(ctx, "/token?grant_type=refresh_token", map[string]string{"refresh_token": refreshToken})
}

// SendOTP mails a one-time code to email (Supabase projects with email
// sign-in; the embedded server sends no mail).
func (c *Client) SendOTP(ctx context.Context, email string) error {
	return c.do(ctx, http.MethodPost, "/otp", "", map[string]any{"email": email, "create_user": true}, nil)
}

// VerifyOTP signs in with the code SendOTP mailed.
func (c *Client) VerifyOTP(ctx context.Context, email, code string) (*Session, error) {
	return c.session(ctx, "/verify", map[string]string{"type": "email", "email": email, "token": code})
}

// GetUser returns the user of accessToken, as the server knows it now.
func (c *Client) GetUser(ctx context.Context, accessToken string) (*User, error) {
	var u User
	if err := c.do(ctx, http.MethodGet, "/user", accessToken, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateUser merges data into the user's metadata.
func (c *Client) UpdateUser(ctx context.Context, accessToken string, data map[string]any) (*User, error) {
	var u User
	if err := c.do(ctx, http.MethodPut, "/user", accessToken, map[string]any{"data": data}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Logout ends this session on the server (its refresh token stops working).
func (c *Client) Logout(ctx context.Context, accessToken string) error {
	return c.do(ctx, http.MethodPost, "/logout?scope=local", accessToken, nil, nil)
}
