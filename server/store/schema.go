// Package store keeps the embedded server's durable state in SQLite (pure
// Go, no cgo): rooms, room members and chat comments, with versioned
// migrations, a PostgREST-like query surface and the change records the
// server turns into postgres_changes events.
package store

import "fmt"

// MaxContent bounds a comment, as the Supabase schema's check does.
const MaxContent = 4000

// migrations are applied in order; each index+1 is a schema version. Never
// edit one that has shipped: add another.
var migrations = []string{
	`CREATE TABLE rooms (
		room_id TEXT PRIMARY KEY,
		host_user_id TEXT,
		current_playback_time REAL NOT NULL DEFAULT 0,
		is_playing INTEGER NOT NULL DEFAULT 0,
		media_filename TEXT,
		media_duration REAL,
		media_size INTEGER,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE room_members (
		room_id TEXT NOT NULL,
		user_id TEXT NOT NULL,
		username TEXT NOT NULL,
		avatar_url TEXT,
		joined_at TEXT NOT NULL,
		last_seen TEXT NOT NULL,
		PRIMARY KEY (room_id, user_id)
	);
	CREATE TABLE comments (
		id TEXT PRIMARY KEY,
		room_id TEXT NOT NULL,
		user_id TEXT NOT NULL,
		username TEXT NOT NULL,
		content TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND ` + fmt.Sprint(MaxContent) + `),
		created_at TEXT NOT NULL,
		is_system_message INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX comments_room_created ON comments (room_id, created_at);`,
	// Private rooms: who may enter (room_access, kept across visits, unlike
	// room_members which says who is here) and the invite's hash; neither
	// table is served over REST. public_key is a member's Ed25519 key.
	`ALTER TABLE rooms ADD COLUMN is_private INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE rooms ADD COLUMN owner_user_id TEXT;
	ALTER TABLE room_members ADD COLUMN public_key TEXT;
	CREATE TABLE room_access (
		room_id TEXT NOT NULL,
		user_id TEXT NOT NULL,
		granted_at TEXT NOT NULL,
		PRIMARY KEY (room_id, user_id)
	);
	CREATE TABLE room_invites (
		room_id TEXT PRIMARY KEY,
		code_hash TEXT NOT NULL,
		salt TEXT NOT NULL,
		created_at TEXT NOT NULL
	);`,
	// The shared playlist ({"entries":[…],"current":n} as JSON text), on
	// the room row, so it follows the row's rules (only the host writes).
	`ALTER TABLE rooms ADD COLUMN playlist TEXT;`,
}
