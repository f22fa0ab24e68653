package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

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
