package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Row is one row as clients see it: JSON-ready values by column name.
type Row map[string]any

// Change is one committed row change, for postgres_changes.
type Change struct {
	Table  string
	Type   string // INSERT, UPDATE, DELETE
	Record Row    // new row (INSERT, UPDATE)
	Old    Row    // old row (UPDATE, DELETE)
	At     time.Time
}

// Error is a request the store refuses, shaped like PostgREST's errors.
type Error struct {
	Status  int    // HTTP status
	Code    string // PostgREST / PostgreSQL code
	Message string
}

func (e *Error) Error() string { return e.Message }

func badRequest(code, format string, args ...any) *Error {
	return &Error{Status: 400, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Store is the SQLite database. Safe for concurrent use.
type Store struct {
	db *sql.DB
}

// Open opens (creating and migrating) the database in dir, or an in-memory
// one for ":memory:".
func Open(dir string) (*Store, error) {
	dsn := "file::memory:?cache=shared"
	if dir != ":memory:" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: cannot create data directory %s: %w", dir, err)
		}
		// WAL: readers never wait for the writer; a commit is in the log
		// before the insert is acknowledged, so a killed server loses
		// nothing it acknowledged.
		dsn = "file:" + filepath.Join(dir, "watchium.db") +
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	} else {
		dsn = fmt.Sprintf("file:mem%x?mode=memory&cache=shared", randomBytes(8))
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// One writer at a time is SQLite's model; a single connection also
	// keeps an in-memory database alive.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.ensureAuthSchema(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// inTx runs fn in one transaction, committed only when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate() error {
	if _, err := s.db.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var v int
	if err := s.db.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store: the database is at schema version %d, newer than this watchium-tui knows (%d): upgrade watchium-tui", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_version (version) VALUES (?)`, i+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Version is the schema version.
func (s *Store) Version() (int, error) {
	var v int
	err := s.db.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
