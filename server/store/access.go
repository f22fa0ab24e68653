package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrRoomExists is returned when a private room is created under a name
// that is taken.
var ErrRoomExists = errors.New("store: the room exists")

// RoomAccess reports whether roomID is private and who owns it; a room
// without a row is public.
func (s *Store) RoomAccess(ctx context.Context, roomID string) (private bool, owner string, err error) {
	var p int64
	var o sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT is_private, owner_user_id FROM rooms WHERE room_id = ?`, roomID).Scan(&p, &o)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("store: %w", err)
	}
	return p != 0, o.String, nil
}

// HasAccess reports whether userID may enter roomID (private rooms only;
// everyone may enter a public room).
func (s *Store) HasAccess(ctx context.Context, roomID, userID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM room_access WHERE room_id = ? AND user_id = ?`, roomID, userID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	return n > 0, nil
}

// CreatePrivateRoom creates roomID as a private room owned (and hosted) by
// owner, who gets access, with the invite's hash and salt.
func (s *Store) CreatePrivateRoom(ctx context.Context, roomID, owner, codeHash, salt string) ([]Change, error) {
	var rows []Row
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM rooms WHERE room_id = ?`, roomID).Scan(&n); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if n > 0 {
			return ErrRoomExists
		}
		ts := now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO rooms (room_id, host_user_id, owner_user_id, is_private, updated_at) VALUES (?, ?, ?, 1, ?)`, roomID, owner, owner, ts); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO room_access (room_id, user_id, granted_at) VALUES (?, ?, ?)`, roomID, owner, ts); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO room_invites (room_id, code_hash, salt, created_at) VALUES (?, ?, ?, ?)`, roomID, codeHash, salt, ts); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		var err error
		rows, err = selectRows(ctx, tx, Tables["rooms"], Query{Filters: []Filter{{Column: "room_id", Op: "eq", Values: []any{roomID}}}})
		return err
	})
	if err != nil {
		return nil, err
	}
	changes := []Change{{Table: "rooms", Type: "INSERT", Record: rows[0]}}
	stamp(changes)
	return changes, nil
}

// Invite returns the hash and salt of roomID's invite code.
func (s *Store) Invite(ctx context.Context, roomID string) (codeHash, salt string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT code_hash, salt FROM room_invites WHERE room_id = ?`, roomID).Scan(&codeHash, &salt)
	if err != nil {
		return "", "", fmt.Errorf("store: %w", err)
	}
	return codeHash, salt, nil
}

// SetInvite replaces roomID's invite code (its hash and salt): the old
// code stops working.
func (s *Store) SetInvite(ctx context.Context, roomID, codeHash, salt string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO room_invites (room_id, code_hash, salt, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (room_id) DO UPDATE SET code_hash = excluded.code_hash, salt = excluded.salt, created_at = excluded.created_at`,
		roomID, codeHash, salt, now())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// GrantAccess lets userID enter roomID from now on.
func (s *Store) GrantAccess(ctx context.Context, roomID, userID string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO room_access (room_id, user_id, granted_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, roomID, userID, now())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// RevokeAccess ends userID's membership of roomID (its access and its
// room_members row); removed reports whether it had access.
func (s *Store) RevokeAccess(ctx context.Context, roomID, userID string) (removed bool, changes []Change, err error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM room_access WHERE room_id = ? AND user_id = ?`, roomID, userID)
	if err != nil {
		return false, nil, fmt.Errorf("store: %w", err)
	}
	n, _ := res.RowsAffected()
	_, changes, err = s.Delete(ctx, "room_members", []Filter{{Column: "room_id", Op: "eq", Values: []any{roomID}}, {Column: "user_id", Op: "eq", Values: []any{userID}}})
	return n > 0, changes, err
}
