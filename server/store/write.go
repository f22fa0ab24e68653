package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
)

// now is the timestamp format of every time column.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") }

// defaults fills what the Supabase schema fills with column defaults; on
// an upsert of an existing row (fresh false) only the touch timestamps.
func defaults(t Table, r Row, fresh bool) {
	ts := now()
	if t.touch != nil {
		t.touch(r, ts)
	}
	if fresh && t.fill != nil {
		t.fill(r, ts)
	}
}

// validateValues checks the fields present in r.
func validateValues(t Table, r Row) error {
	for k := range r {
		if _, ok := t.column(k); !ok {
			return badRequest("PGRST204", "Could not find the '%s' column of '%s' in the schema cache", k, t.Name)
		}
	}
	if t.check != nil {
		return t.check(r)
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
	if t.checkNew != nil {
		return t.checkNew(r)
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
	var out []Row
	var changes []Change
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			if t.newKey != nil {
				t.newKey(r)
			}
			for _, k := range t.Key {
				if r[k] == nil {
					return badRequest("23502", "null value in column \"%s\" of relation \"%s\" violates not-null constraint", k, t.Name)
				}
			}
			keyFilter := keyFilters(t, r)
			old, err := selectRows(ctx, tx, t, Query{Filters: keyFilter})
			if err != nil {
				return err
			}
			defaults(t, r, len(old) == 0)
			if len(old) > 0 && t.keep != nil {
				t.keep(r, old[0])
			}
			if len(old) == 0 {
				err = validate(t, r)
			} else {
				err = validateValues(t, r)
			}
			if err != nil {
				return err
			}
			if len(old) > 0 && !merge {
				return &Error{Status: 409, Code: "23505", Message: fmt.Sprintf("duplicate key value violates unique constraint \"%s_pkey\"", t.Name)}
			}
			cols := sortedKeys(r)
			args := make([]any, len(cols))
			for i, c := range cols {
				col, _ := t.column(c)
				if args[i], err = toSQL(col, r[c]); err != nil {
					return err
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
				return fmt.Errorf("store: %w", err)
			}
			got, err := selectRows(ctx, tx, t, Query{Filters: keyFilter})
			if err != nil || len(got) != 1 {
				return fmt.Errorf("store: reading back the row: %v", err)
			}
			out = append(out, got[0])
			ch := Change{Table: t.Name, Type: "INSERT", Record: got[0]}
			if len(old) > 0 {
				ch.Type, ch.Old = "UPDATE", old[0]
			}
			changes = append(changes, ch)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
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
	if t.touch != nil {
		t.touch(set, now())
	}
	if err := validateValues(t, set); err != nil {
		return nil, nil, err
	}
	for _, k := range t.Key {
		if _, ok := set[k]; ok {
			return nil, nil, badRequest("PGRST204", "the primary key column %s cannot be changed", k)
		}
	}
	var out []Row
	var changes []Change
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := selectRows(ctx, tx, t, Query{Filters: fs})
		if err != nil {
			return err
		}
		cols := sortedKeys(set)
		var sets []string
		var args []any
		for _, c := range cols {
			col, _ := t.column(c)
			v, err := toSQL(col, set[c])
			if err != nil {
				return err
			}
			sets = append(sets, c+" = ?")
			args = append(args, v)
		}
		for _, o := range old {
			kf := keyFilters(t, o)
			w, wargs, _ := where(t, kf)
			if _, err := tx.ExecContext(ctx, "UPDATE "+t.Name+" SET "+strings.Join(sets, ", ")+w, append(append([]any(nil), args...), wargs...)...); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			got, err := selectRows(ctx, tx, t, Query{Filters: kf})
			if err != nil || len(got) != 1 {
				return fmt.Errorf("store: reading back the row: %v", err)
			}
			out = append(out, got[0])
			changes = append(changes, Change{Table: t.Name, Type: "UPDATE", Record: got[0], Old: o})
		}
		return nil
	})
	if err != nil {
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
	var old []Row
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if old, err = selectRows(ctx, tx, t, Query{Filters: fs}); err != nil {
			return err
		}
		w, args, err := where(t, fs)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t.Name+w, args...); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	})
	if err != nil {
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
