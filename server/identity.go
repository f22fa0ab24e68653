package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

// identify verifies the token a client presents (a realtime join's or
// access_token push's access_token, or an HTTP bearer token). nil claims
// with a nil error is the anon role: no token, or the project's API key
// itself (realtime-js sends the key when nobody is signed in). A token that
// fails verification is an error, never the anon role.
func (s *Server) identify(token string) (*auth.Claims, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, nil
	}
	if s.cfg.AnonKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AnonKey)) == 1 {
		return nil, nil
	}
	if !auth.LooksLikeJWT(token) {
		if s.cfg.AnonKey == "" {
			// An open server has no key to compare with: an opaque token is
			// whatever key the client was given.
			return nil, nil
		}
		return nil, &auth.TokenError{Malformed: true, Err: errors.New("not a JWT")}
	}
	claims, err := s.verifier.Verify(token)
	if err != nil {
		return nil, err
	}
	if claims.Role == "anon" {
		return nil, nil
	}
	return claims, nil
}

// joinRefusal is Supabase Realtime's reason for refusing a join token.
func joinRefusal(err error) string {
	var te *auth.TokenError
	switch {
	case errors.As(err, &te) && te.Malformed:
		return "MalformedJWT: " + te.Error()
	case errors.As(err, &te) && te.Expired:
		return "InvalidJWTToken: " + te.Error()
	case errors.As(err, &te) && strings.Contains(te.Error(), "signature"):
		return "JwtSignatureError: Failed to validate JWT signature"
	}
	return "InvalidJWTToken: " + err.Error()
}

// bearer is the token of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok)
}

// restIdentity verifies a REST request's bearer token, answering a bad one
// as PostgREST does (401, PGRST301 invalid / PGRST303 expired).
func (s *Server) restIdentity(w http.ResponseWriter, r *http.Request) (*auth.Claims, bool) {
	claims, err := s.identify(bearer(r))
	if err == nil {
		return claims, true
	}
	code, msg := "PGRST301", err.Error()
	var te *auth.TokenError
	if errors.As(err, &te) && te.Expired {
		code, msg = "PGRST303", "JWT expired"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+strings.ReplaceAll(msg, `"`, `'`)+`"`)
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "details": nil, "hint": nil})
	return nil, false
}

// broadcastIdentity verifies the bearer of an HTTP broadcast: a bad token
// is refused, not taken for the anon role.
func (s *Server) broadcastIdentity(w http.ResponseWriter, r *http.Request) (*auth.Claims, bool) {
	claims, err := s.identify(bearer(r))
	if err != nil {
		writeJSONError(w, http.StatusUnauthorized, "Invalid JWT: "+err.Error())
		return nil, false
	}
	return claims, true
}

// functionIdentity verifies an edge-function call's bearer token, answering
// a bad one as Supabase's functions gateway does.
func (s *Server) functionIdentity(w http.ResponseWriter, r *http.Request) (*auth.Claims, bool) {
	claims, err := s.identify(bearer(r))
	if err == nil {
		return claims, true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": 401, "message": "Invalid JWT"})
	return nil, false
}

// UserID is the verified user of a channel subscription ("" for the anon
// role), for the endpoints that enforce who may do what. Other connections
// read it (the room's authority looks at every member), so it is kept
// apart from claims, which only the owning connection touches.
func (s *subscription) UserID() string {
	uid, _ := s.uid.Load().(string)
	return uid
}

// setClaims records sub's verified identity and arms its expiry: when the
// token runs out before the client pushes a fresh one, the channel gets
// Supabase's system message and is closed.
func (c *conn) setClaims(sub *subscription, claims *auth.Claims) {
	if sub.expiry != nil {
		sub.expiry.Stop()
		sub.expiry = nil
	}
	sub.claims = claims
	sub.uid.Store(claims.UserID())
	if claims == nil || claims.ExpiresAt == nil {
		return
	}
	exp := claims.ExpiresAt.Time
	sub.expiry = time.AfterFunc(time.Until(exp), func() { c.tokenExpired(sub, claims) })
}

// tokenExpired runs on the timer's goroutine; the handler lock keeps it
// from racing the reader over c.subs.
func (c *conn) tokenExpired(sub *subscription, claims *auth.Claims) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.subs[sub.topic] != sub || sub.claims != claims {
		return // left, or refreshed in time
	}
	te := &auth.TokenError{Expired: true, ExpiredFor: time.Since(claims.ExpiresAt.Time)}
	c.shutdownChannel(sub, te.Error())
}

// accessToken handles realtime-js's setAuth push: a valid token replaces
// the channel's identity (and pushes back its expiry); an invalid one
// closes the channel, as on Supabase.
func (c *conn) accessToken(sub *subscription, m phx.Message) {
	var p struct {
		Token string `json:"access_token"`
	}
	if json.Unmarshal(m.Payload, &p) != nil || p.Token == "" {
		c.system(sub, "error", "access_token event needs {\"access_token\": \"<jwt>\"}")
		return
	}
	claims, err := c.s.identify(p.Token)
	if err != nil {
		c.shutdownChannel(sub, "Received an invalid access token from client: "+joinRefusal(err))
		return
	}
	if sub.claims != nil && claims != nil && claims.UserID() != sub.claims.UserID() {
		// A channel is one user's: presence and authority hang on it.
		c.shutdownChannel(sub, "Received an access token for another user: join the channel again")
		return
	}
	c.setClaims(sub, claims)
}

// shutdownChannel sends a system error and closes the channel for this
// client, as Supabase does for rate limits and expired tokens.
func (c *conn) shutdownChannel(sub *subscription, msg string) {
	c.system(sub, "error", msg)
	c.leave(sub)
	c.write(phx.Message{JoinRef: sub.joinRef, Ref: sub.joinRef, Topic: sub.topic, Event: phx.EventClose, Payload: json.RawMessage("{}")})
}

// ownedTables are the tables whose rows name the user who wrote them.
var ownedTables = map[string]bool{"comments": true, "room_members": true}

func rlsError(table, why string) error {
	return &store.Error{Status: http.StatusForbidden, Code: "42501",
		Message: `new row violates row-level security policy for table "` + table + `": ` + why}
}

// mayAct reports whether the caller may act as (or on rows of) owner: a
// signed-in caller only as itself; the anon role (the embedded server is
// open to it, for spec web clients) never as a signed-in user.
func (s *Server) mayAct(claims *auth.Claims, owner string) bool {
	if uid := claims.UserID(); uid != "" {
		return owner == uid
	}
	return !s.isUser(owner)
}

// mayWrite holds inserted rows to the rules of the Supabase migration's
// row-level security: comments and memberships only in your own name, a
// room only created by (naming as host) yourself, or changed by its host.
func (s *Server) mayWrite(ctx context.Context, claims *auth.Claims, table string, rows []store.Row) error {
	uid := claims.UserID()
	for _, row := range rows {
		if err := noAccessColumns(table, row); err != nil {
			return err
		}
		switch {
		case ownedTables[table]:
			if v, _ := row["user_id"].(string); !s.mayAct(claims, v) {
				if uid == "" {
					return rlsError(table, "user_id "+v+" is a signed-in user; sign in as yourself")
				}
				return rlsError(table, "user_id must be your own ("+uid+")")
			}
		case table == "rooms":
			id, _ := row["room_id"].(string)
			existing, err := s.cfg.Store.Select(ctx, "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{id}}}})
			if err != nil {
				return err
			}
			if len(existing) == 1 {
				if h, _ := existing[0]["host_user_id"].(string); h != "" && !s.mayAct(claims, h) {
					return rlsError(table, "only the room's host changes it (or play, pause and seek through /functions/v1/sync/control)")
				}
			}
			if h, _ := row["host_user_id"].(string); h != "" && !s.mayAct(claims, h) || uid != "" && h != uid && len(existing) == 0 {
				return rlsError(table, "a new room's host_user_id must be your own")
			}
		}
	}
	return nil
}

// mayChange holds PATCH and DELETE to the same rules: the rows the filters
// match must be the caller's own (rooms: hosted by the caller), and a
// changed owner must be the caller too.
func (s *Server) mayChange(ctx context.Context, claims *auth.Claims, table string, filters []store.Filter, set store.Row) error {
	owner := "user_id"
	if table == "rooms" {
		owner = "host_user_id"
	} else if !ownedTables[table] {
		return nil
	}
	if err := noAccessColumns(table, set); err != nil {
		return err
	}
	if v, ok := set[owner].(string); ok && !s.mayAct(claims, v) && table != "rooms" {
		return rlsError(table, owner+" must be your own")
	}
	rows, err := s.cfg.Store.Select(ctx, table, store.Query{Filters: filters})
	if err != nil {
		return err
	}
	for _, row := range rows {
		if v, _ := row[owner].(string); v != "" && !s.mayAct(claims, v) {
			if table == "rooms" {
				return rlsError(table, "only the room's host changes it (or play, pause and seek through /functions/v1/sync/control)")
			}
			return rlsError(table, "you may change only your own rows")
		}
	}
	return nil
}

// noAccessColumns keeps who may enter a room out of REST's reach: rooms
// become private only through create_private_room.
func noAccessColumns(table string, row store.Row) error {
	if table != "rooms" {
		return nil
	}
	for _, col := range []string{"is_private", "owner_user_id"} {
		if _, ok := row[col]; ok {
			return rlsError(table, col+" is set by create_private_room, not over REST")
		}
	}
	return nil
}
