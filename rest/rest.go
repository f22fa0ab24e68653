// Package rest calls the HTTP side of a Supabase-shaped backend: PostgREST
// tables (/rest/v1) and edge functions (/functions/v1). The embedded server
// serves the same paths, so one client works with both.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client is safe for concurrent use.
type Client struct {
	base  string
	key   string
	http  *http.Client
	token func() string
}

// WithAccessToken makes the client send the signed-in user's access token
// (token is asked on every request, so refreshed tokens are used at once)
// instead of the API key as its bearer, as supabase-js does.
func (c *Client) WithAccessToken(token func() string) *Client {
	cc := *c
	cc.token = token
	return &cc
}

// SignedIn reports whether the client sends a user's access token (rather
// than acting as the API key's anonymous role).
func (c *Client) SignedIn() bool { return c.token != nil }

// Error is a non-2xx answer.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d (%s): %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// New makes a client for the project at projectURL (http(s); ws(s) URLs
// are mapped to http(s)).
func New(projectURL, apiKey string) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(projectURL))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("rest: %q is not a server URL", projectURL)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("rest: unsupported scheme %q", u.Scheme)
	}
	u.Path, u.RawQuery = "", ""
	return &Client{base: strings.TrimRight(u.String(), "/"), key: apiKey, http: &http.Client{Timeout: 15 * time.Second}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body any, headers map[string]string, out any) error {
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
	if c.key != "" {
		req.Header.Set("apikey", c.key)
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.token != nil {
		if tok := c.token(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		var m struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(data, &m) == nil {
			e.Code, e.Message = m.Code, m.Message
			if e.Message == "" {
				e.Message = m.Error
			}
		}
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return e
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Select reads rows of table; params are PostgREST query parameters
// (room_id=eq.x, order=created_at.desc, limit=50).
func (c *Client) Select(ctx context.Context, table string, params url.Values, out any) error {
	return c.do(ctx, http.MethodGet, "/rest/v1/"+url.PathEscape(table)+"?"+params.Encode(), nil, nil, out)
}

// Insert adds row (or rows) to table and decodes the stored rows into out.
func (c *Client) Insert(ctx context.Context, table string, row any, upsert bool, out any) error {
	prefer := "return=representation"
	if upsert {
		prefer += ",resolution=merge-duplicates"
	}
	return c.do(ctx, http.MethodPost, "/rest/v1/"+url.PathEscape(table), row, map[string]string{"Prefer": prefer}, out)
}

// Update sets the fields of set on the rows of table matching params
// (PostgREST filters; PATCH).
func (c *Client) Update(ctx context.Context, table string, params url.Values, set any) error {
	return c.do(ctx, http.MethodPatch, "/rest/v1/"+url.PathEscape(table)+"?"+params.Encode(), set, map[string]string{"Prefer": "return=minimal"}, nil)
}

// Delete removes the rows of table matching params (PostgREST filters).
func (c *Client) Delete(ctx context.Context, table string, params url.Values) error {
	return c.do(ctx, http.MethodDelete, "/rest/v1/"+url.PathEscape(table)+"?"+params.Encode(), nil, nil, nil)
}

// Function calls an edge function with a JSON body.
func (c *Client) Function(ctx context.Context, name string, body, out any) error {
	return c.do(ctx, http.MethodPost, "/functions/v1/"+name, body, nil, out)
}

// RPC calls a database function (PostgREST's POST /rest/v1/rpc/NAME) with
// args as its named arguments.
func (c *Client) RPC(ctx context.Context, name string, args, out any) error {
	return c.do(ctx, http.MethodPost, "/rest/v1/rpc/"+url.PathEscape(name), args, nil, out)
}
