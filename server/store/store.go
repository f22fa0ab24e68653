package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/watchium/watchium-tui/internal/ids"
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

func lookup(table string) (Table, error) {
	t, ok := Tables[table]
	if !ok {
		return t, &Error{Status: 404, Code: "42P01", Message: fmt.Sprintf("relation \"public.%s\" does not exist", table)}
	}
	return t, nil
}

// Order is one ORDER BY term.
type Order struct {
	Column string
	Desc   bool
}

// Query selects rows.
type Query struct {
	Filters []Filter
	Order   []Order
	Limit   int // 0: no limit
}

func (t Table) columnList() string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func where(t Table, fs []Filter) (string, []any, error) {
	var parts []string
	var args []any
	for _, f := range fs {
		col, ok := t.column(f.Column)
		if !ok {
			return "", nil, badRequest("42703", "column %s.%s does not exist", t.Name, f.Column)
		}
		vals := make([]any, len(f.Values))
		for i, v := range f.Values {
			x, err := toSQL(col, v)
			if err != nil {
				return "", nil, err
			}
			vals[i] = x
		}
		switch f.Op {
		case "in":
			if len(vals) == 0 {
				parts = append(parts, "0")
				continue
			}
			parts = append(parts, col.Name+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+")")
			args = append(args, vals...)
		default:
			parts = append(parts, col.Name+" "+sqlOps[f.Op]+" ?")
			args = append(args, vals[0])
		}
	}
	if len(parts) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(parts, " AND "), args, nil
}

var sqlOps = map[string]string{"eq": "=", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

// toSQL converts a filter or body value for column c.
func toSQL(c Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.PGType {
	case "bool":
		switch x := v.(type) {
		case bool:
			return boolInt(x), nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return boolInt(b), nil
			}
		}
		return nil, badRequest("22P02", "invalid input syntax for type boolean: %v (column %s)", v, c.Name)
	case "float8", "int8":
		switch x := v.(type) {
		case float64:
			if c.PGType == "int8" {
				return int64(x), nil
			}
			return x, nil
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err == nil {
				if c.PGType == "int8" {
					return int64(f), nil
				}
				return f, nil
			}
		}
		return nil, badRequest("22P02", "invalid input syntax for type %s: %v (column %s)", c.PGType, v, c.Name)
	default:
		switch x := v.(type) {
		case string:
			return x, nil
		case float64, bool:
			return fmt.Sprint(x), nil
		}
		return nil, badRequest("22P02", "invalid value for %s: want a string", c.Name)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Select returns rows of table matching q.
func (s *Store) Select(ctx context.Context, table string, q Query) ([]Row, error) {
	t, err := lookup(table)
	if err != nil {
		return nil, err
	}
	return selectRows(ctx, s.db, t, q)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func selectRows(ctx context.Context, db queryer, t Table, q Query) ([]Row, error) {
	w, args, err := where(t, q.Filters)
	if err != nil {
		return nil, err
	}
	stmt := "SELECT " + t.columnList() + " FROM " + t.Name + w
	if len(q.Order) > 0 {
		var terms []string
		for _, o := range q.Order {
			if _, ok := t.column(o.Column); !ok {
				return nil, badRequest("42703", "column %s.%s does not exist", t.Name, o.Column)
			}
			dir := "ASC"
			if o.Desc {
				dir = "DESC"
			}
			terms = append(terms, o.Column+" "+dir)
		}
		stmt += " ORDER BY " + strings.Join(terms, ", ")
	}
	if q.Limit > 0 {
		stmt += " LIMIT " + strconv.Itoa(q.Limit)
	}
	rows, err := db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		vals := make([]any, len(t.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := Row{}
		for i, c := range t.Columns {
			r[c.Name] = fromSQL(c, vals[i])
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func fromSQL(c Column, v any) any {
	if v == nil {
		return nil
	}
	switch c.PGType {
	case "bool":
		switch x := v.(type) {
		case int64:
			return x != 0
		}
	case "float8":
		switch x := v.(type) {
		case int64:
			return float64(x)
		}
	}
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// now is the timestamp format of every time column.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") }

// defaults fills what the Supabase schema fills with column defaults; on
// an upsert of an existing row (fresh false) only the touch timestamps.
func defaults(t Table, r Row, fresh bool) {
	ts := now()
	switch t.Name {
	case "rooms":
		r["updated_at"] = ts
	case "room_members":
		r["last_seen"] = ts
	}
	if !fresh {
		return
	}
	switch t.Name {
	case "comments":
		if r["id"] == nil {
			r["id"] = ids.New()
		}
		if r["created_at"] == nil {
			r["created_at"] = ts
		}
		if r["is_system_message"] == nil {
			r["is_system_message"] = false
		}
	case "rooms":
		if r["current_playback_time"] == nil {
			r["current_playback_time"] = 0.0
		}
		if r["is_playing"] == nil {
			r["is_playing"] = false
		}
	case "room_members":
		if r["joined_at"] == nil {
			r["joined_at"] = ts
		}
	}
}

// validateValues checks the fields present in r.
func validateValues(t Table, r Row) error {
	for k := range r {
		if _, ok := t.column(k); !ok {
			return badRequest("PGRST204", "Could not find the '%s' column of '%s' in the schema cache", k, t.Name)
		}
	}
	if c, ok := r["content"]; ok && t.Name == "comments" {
		content, _ := c.(string)
		if strings.TrimSpace(content) == "" || len(content) > MaxContent {
			return badRequest("23514", "new row for relation \"comments\" violates check constraint \"comments_content_check\" (content must have 1 to %d bytes)", MaxContent)
		}
	}
	if v, ok := r["current_playback_time"].(float64); ok && t.Name == "rooms" && (v < 0 || v != v || v > 1e9) {
		return badRequest("23514", "current_playback_time must be a finite, non-negative number of seconds")
	}
	return nil
}

// validate checks a whole new row.
func validate(t Table, r Row) error {
	if err := validateValues(t, r); err != nil {
		return err
	}
	for _, k := range t.Key {
		if r[k] == nil {
			return badRequest("23502", "null value in column \"%s\" of relation \"%s\" violates not-null constraint", k, t.Name)
		}
	}
	if t.Name == "comments" {
		if _, ok := r["content"]; !ok {
			return badRequest("23502", "null value in column \"content\" of relation \"comments\" violates not-null constraint")
		}
		for _, k := range []string{"room_id", "user_id", "username"} {
			if s, _ := r[k].(string); s == "" {
				return badRequest("23502", "null value in column \"%s\" of relation \"comments\" violates not-null constraint", k)
			}
		}
	}
	return nil
}

// Insert adds rows (upsert on the primary key when merge is true) and
// returns them as stored, with the changes they made.
func (s *Store) Insert(ctx context.Context, table string, rows []Row, merge bool) ([]Row, []Change, error) {
	t, err := lookup(table)
	if err != nil {
		return nil, nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	var out []Row
	var changes []Change
	for _, r := range rows {
		if t.Name == "comments" && r["id"] == nil {
			r["id"] = ids.New()
		}
		for _, k := range t.Key {
			if r[k] == nil {
				return nil, nil, badRequest("23502", "null value in column \"%s\" of relation \"%s\" violates not-null constraint", k, t.Name)
			}
		}
		keyFilter := keyFilters(t, r)
		old, err := selectRows(ctx, tx, t, Query{Filters: keyFilter})
		if err != nil {
			return nil, nil, err
		}
		defaults(t, r, len(old) == 0)
		if len(old) > 0 && t.Name == "room_members" && r["joined_at"] == nil {
			// SQLite checks NOT NULL on the proposed row before the
			// upsert's update: a member's row upserted again (another
			// terminal, a key put back) keeps the time it joined.
			r["joined_at"] = old[0]["joined_at"]
		}
		if len(old) == 0 {
			err = validate(t, r)
		} else {
			err = validateValues(t, r)
		}
		if err != nil {
			return nil, nil, err
		}
		if len(old) > 0 && !merge {
			return nil, nil, &Error{Status: 409, Code: "23505", Message: fmt.Sprintf("duplicate key value violates unique constraint \"%s_pkey\"", t.Name)}
		}
		cols := sortedKeys(r)
		args := make([]any, len(cols))
		for i, c := range cols {
			col, _ := t.column(c)
			if args[i], err = toSQL(col, r[c]); err != nil {
				return nil, nil, err
			}
		}
		stmt := "INSERT INTO " + t.Name + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
		if merge {
			var sets []string
			for _, c := range cols {
				sets = append(sets, c+" = excluded."+c)
			}
			stmt += " ON CONFLICT (" + strings.Join(t.Key, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return nil, nil, fmt.Errorf("store: %w", err)
		}
		got, err := selectRows(ctx, tx, t, Query{Filters: keyFilter})
		if err != nil || len(got) != 1 {
			return nil, nil, fmt.Errorf("store: reading back the row: %v", err)
		}
		out = append(out, got[0])
		ch := Change{Table: t.Name, Type: "INSERT", Record: got[0]}
		if len(old) > 0 {
			ch.Type, ch.Old = "UPDATE", old[0]
		}
		changes = append(changes, ch)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	stamp(changes)
	return out, changes, nil
}

// Update sets fields on the rows matching fs.
func (s *Store) Update(ctx context.Context, table string, fs []Filter, set Row) ([]Row, []Change, error) {
	t, err := lookup(table)
	if err != nil {
		return nil, nil, err
	}
	if t.Name == "rooms" {
		set["updated_at"] = now()
	}
	if t.Name == "room_members" {
		set["last_seen"] = now()
	}
	if err := validateValues(t, set); err != nil {
		return nil, nil, err
	}
	for _, k := range t.Key {
		if _, ok := set[k]; ok {
			return nil, nil, badRequest("PGRST204", "the primary key column %s cannot be changed", k)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	old, err := selectRows(ctx, tx, t, Query{Filters: fs})
	if err != nil {
		return nil, nil, err
	}
	cols := sortedKeys(set)
	var sets []string
	var args []any
	for _, c := range cols {
		col, _ := t.column(c)
		v, err := toSQL(col, set[c])
		if err != nil {
			return nil, nil, err
		}
		sets = append(sets, c+" = ?")
		args = append(args, v)
	}
	var out []Row
	var changes []Change
	for _, o := range old {
		kf := keyFilters(t, o)
		w, wargs, _ := where(t, kf)
		if _, err := tx.ExecContext(ctx, "UPDATE "+t.Name+" SET "+strings.Join(sets, ", ")+w, append(append([]any(nil), args...), wargs...)...); err != nil {
			return nil, nil, fmt.Errorf("store: %w", err)
		}
		got, err := selectRows(ctx, tx, t, Query{Filters: kf})
		if err != nil || len(got) != 1 {
			return nil, nil, fmt.Errorf("store: reading back the row: %v", err)
		}
		out = append(out, got[0])
		changes = append(changes, Change{Table: t.Name, Type: "UPDATE", Record: got[0], Old: o})
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	stamp(changes)
	return out, changes, nil
}

// Delete removes the rows matching fs; a filter is required.
func (s *Store) Delete(ctx context.Context, table string, fs []Filter) ([]Row, []Change, error) {
	t, err := lookup(table)
	if err != nil {
		return nil, nil, err
	}
	if len(fs) == 0 {
		return nil, nil, badRequest("21000", "DELETE requires a WHERE clause (add a filter)")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	old, err := selectRows(ctx, tx, t, Query{Filters: fs})
	if err != nil {
		return nil, nil, err
	}
	w, args, err := where(t, fs)
	if err != nil {
		return nil, nil, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+t.Name+w, args...); err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	var changes []Change
	for _, o := range old {
		changes = append(changes, Change{Table: t.Name, Type: "DELETE", Old: o})
	}
	stamp(changes)
	return old, changes, nil
}

func stamp(cs []Change) {
	at := time.Now().UTC()
	for i := range cs {
		cs[i].At = at
	}
}

func keyFilters(t Table, r Row) []Filter {
	var fs []Filter
	for _, k := range t.Key {
		fs = append(fs, Filter{Column: k, Op: "eq", Values: []any{r[k]}})
	}
	return fs
}

func sortedKeys(r Row) []string {
	ks := make([]string, 0, len(r))
	for k := range r {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
