package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/watchium/watchium-tui/internal/ids"
)

// The auth tables live beside the room tables but outside the numbered
// migrations: they are created if missing, so the auth server can evolve
// without renumbering the room schema.
const authSchema = `
CREATE TABLE IF NOT EXISTS auth_users (
	id TEXT PRIMARY KEY,
	is_anonymous INTEGER NOT NULL,
	user_metadata TEXT NOT NULL DEFAULT '{}',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	last_sign_in_at TEXT
);
CREATE TABLE IF NOT EXISTS auth_sessions (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
	created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_refresh_tokens (
	token TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
	parent TEXT,
	revoked_at TEXT,
	created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_refresh_tokens_session ON auth_refresh_tokens (session_id);`

// User is an auth user as the embedded auth server keeps it.
type User struct {
	ID           string
	IsAnonymous  bool
	UserMetadata map[string]any
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastSignInAt time.Time
}

// Session is one sign-in of a user; its refresh tokens rotate within it.
type Session struct {
	ID     string
	UserID string
}

// Auth errors the auth server maps to Supabase Auth's error codes.
var (
	ErrUserNotFound         = errors.New("store: user not found")
	ErrSessionNotFound      = errors.New("store: session not found")
	ErrRefreshTokenNotFound = errors.New("store: refresh token not found")
	ErrRefreshTokenReused   = errors.New("store: refresh token already used")
)

func (s *Store) ensureAuthSchema() error {
	if _, err := s.db.Exec(authSchema); err != nil {
		return fmt.Errorf("store: auth tables: %w", err)
	}
	return nil
}

func parseTime(v sql.NullString) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	t, _ := time.Parse("2006-01-02T15:04:05.000000Z", v.String)
	return t
}

// CreateUser adds a user and opens its first session with refreshToken.
func (s *Store) CreateUser(ctx context.Context, anonymous bool, metadata map[string]any, refreshToken string) (User, Session, error) {
	if metadata == nil {
		metadata = map[string]any{}
	}
	meta, err := json.Marshal(metadata)
	if err != nil {
		return User{}, Session{}, err
	}
	u := User{ID: ids.New(), IsAnonymous: anonymous, UserMetadata: metadata}
	ts := now()
	sess := Session{ID: ids.New(), UserID: u.ID}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_users (id, is_anonymous, user_metadata, created_at, updated_at, last_sign_in_at) VALUES (?, ?, ?, ?, ?, ?)`,
			u.ID, boolInt(anonymous), string(meta), ts, ts, ts); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_sessions (id, user_id, created_at) VALUES (?, ?, ?)`, sess.ID, u.ID, ts); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_refresh_tokens (token, session_id, created_at) VALUES (?, ?, ?)`, refreshToken, sess.ID, ts)
		return err
	})
	if err != nil {
		return User{}, Session{}, err
	}
	t := parseTime(sql.NullString{String: ts, Valid: true})
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = t, t, t
	return u, sess, nil
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	return userByID(ctx, s.db, id)
}

func userByID(ctx context.Context, q rowQueryer, id string) (User, error) {
	var u User
	var anon int64
	var meta string
	var created, updated, last sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, is_anonymous, user_metadata, created_at, updated_at, last_sign_in_at FROM auth_users WHERE id = ?`, id).
		Scan(&u.ID, &anon, &meta, &created, &updated, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrUserNotFound
	}
	if err != nil {
		return u, err
	}
	u.IsAnonymous = anon != 0
	_ = json.Unmarshal([]byte(meta), &u.UserMetadata)
	if u.UserMetadata == nil {
		u.UserMetadata = map[string]any{}
	}
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = parseTime(created), parseTime(updated), parseTime(last)
	return u, nil
}

// UpdateUserMetadata merges patch into the user's metadata (a null value
// removes the key), as Supabase Auth's PUT /user does with data.
func (s *Store) UpdateUserMetadata(ctx context.Context, id string, patch map[string]any) (User, error) {
	var u User
	ts := now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		for k, v := range patch {
			if v == nil {
				delete(u.UserMetadata, k)
			} else {
				u.UserMetadata[k] = v
			}
		}
		meta, err := json.Marshal(u.UserMetadata)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE auth_users SET user_metadata = ?, updated_at = ? WHERE id = ?`, string(meta), ts, id)
		return err
	})
	if err != nil {
		return User{}, err
	}
	u.UpdatedAt = parseTime(sql.NullString{String: ts, Valid: true})
	return u, nil
}

// SessionExists reports whether the session is still signed in.
func (s *Store) SessionExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_sessions WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

// RotateRefreshToken spends token and issues next in its place, returning
// the session and user. A token spent within reuseWindow yields the
// session's current token again (two tabs refreshing at once both
// succeed, as on Supabase); a token spent earlier is a stolen or replayed
// one, and the whole session is signed out.
func (s *Store) RotateRefreshToken(ctx context.Context, token, next string, reuseWindow time.Duration) (User, Session, string, error) {
	var u User
	var sess Session
	issued := next
	reused := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT t.session_id, s.user_id, t.revoked_at FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id WHERE t.token = ?`, token).
			Scan(&sess.ID, &sess.UserID, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrRefreshTokenNotFound
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			if time.Since(parseTime(revoked)) > reuseWindow {
				// The sign-out is committed though the call fails.
				reused = true
				_, err := tx.ExecContext(ctx, `DELETE FROM auth_sessions WHERE id = ?`, sess.ID)
				return err
			}
			err := tx.QueryRowContext(ctx, `SELECT token FROM auth_refresh_tokens WHERE session_id = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1`, sess.ID).Scan(&issued)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrRefreshTokenNotFound
			}
			if err != nil {
				return err
			}
		} else {
			ts := now()
			if _, err := tx.ExecContext(ctx, `UPDATE auth_refresh_tokens SET revoked_at = ? WHERE token = ?`, ts, token); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO auth_refresh_tokens (token, session_id, parent, created_at) VALUES (?, ?, ?, ?)`, next, sess.ID, token, ts); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE auth_users SET last_sign_in_at = ? WHERE id = ?`, ts, sess.UserID); err != nil {
				return err
			}
		}
		u, err = userByID(ctx, tx, sess.UserID)
		return err
	})
	switch {
	case err != nil:
		return User{}, Session{}, "", err
	case reused:
		return User{}, Session{}, "", ErrRefreshTokenReused
	}
	return u, sess, issued, nil
}

// Logout ends sessions: "local" ends sessionID, "others" every other
// session of userID, "global" all of them.
func (s *Store) Logout(ctx context.Context, userID, sessionID, scope string) error {
	var err error
	switch scope {
	case "local":
		_, err = s.db.ExecContext(ctx, `DELETE FROM auth_sessions WHERE id = ?`, sessionID)
	case "others":
		_, err = s.db.ExecContext(ctx, `DELETE FROM auth_sessions WHERE user_id = ? AND id <> ?`, userID, sessionID)
	default:
		_, err = s.db.ExecContext(ctx, `DELETE FROM auth_sessions WHERE user_id = ?`, userID)
	}
	return err
}

type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
