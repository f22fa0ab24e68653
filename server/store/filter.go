package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Filter is one PostgREST-style condition: column op value(s).
type Filter struct {
	Column string
	Op     string // eq, neq, lt, lte, gt, gte, in
	Values []any
}

var ops = map[string]bool{"eq": true, "neq": true, "lt": true, "lte": true, "gt": true, "gte": true, "in": true}

// ParseParam parses one query parameter (room_id, "eq.abc").
func ParseParam(column, expr string) (Filter, error) {
	op, val, ok := strings.Cut(expr, ".")
	if !ok || !ops[op] {
		return Filter{}, badRequest("PGRST100", "failed to parse filter (%s=%s): use column=OP.value with OP one of eq, neq, lt, lte, gt, gte, in", column, expr)
	}
	if column == "" {
		return Filter{}, badRequest("PGRST100", "failed to parse filter (%s): no column", expr)
	}
	f := Filter{Column: column, Op: op}
	if op == "in" {
		if !strings.HasPrefix(val, "(") || !strings.HasSuffix(val, ")") {
			return Filter{}, badRequest("PGRST100", "`in` filter value must be wrapped by parentheses: %s=in.(a,b)", column)
		}
		inner := val[1 : len(val)-1]
		if inner != "" {
			for _, v := range splitList(inner) {
				f.Values = append(f.Values, v)
			}
		}
		return f, nil
	}
	f.Values = []any{unquote(val)}
	return f, nil
}

// ParseFilters parses a postgres_changes filter: "col=op.val[,col=op.val]".
func ParseFilters(s string) ([]Filter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []Filter
	for _, part := range splitList(s) {
		if strings.TrimSpace(part) == "" {
			return nil, badRequest("PGRST100", "filter must not contain empty segments (check for extra commas)")
		}
		col, expr, ok := strings.Cut(part, "=")
		if !ok {
			return nil, badRequest("PGRST100", "Error parsing `filter` params: %q", part)
		}
		f, err := ParseParam(strings.TrimSpace(col), expr)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// splitList splits on commas outside parentheses and double quotes.
func splitList(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == ',' && depth == 0:
			out = append(out, unquote(s[start:i]))
			start = i + 1
		}
	}
	return append(out, unquote(s[start:]))
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
	}
	return v
}

// CheckColumns reports the first filter naming a column table lacks.
func CheckColumns(table string, fs []Filter) error {
	t, err := lookup(table)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if _, ok := t.column(f.Column); !ok {
			return badRequest("42703", "column %s.%s does not exist", table, f.Column)
		}
	}
	return nil
}

// Match reports whether row r of table satisfies every filter.
func Match(table string, fs []Filter, r Row) bool {
	t, ok := Tables[table]
	if !ok {
		return false
	}
	for _, f := range fs {
		col, ok := t.column(f.Column)
		if !ok || !f.match(col, r[f.Column]) {
			return false
		}
	}
	return true
}

func (f Filter) match(col Column, v any) bool {
	if f.Op == "in" {
		for _, want := range f.Values {
			if compare(col, v, want) == 0 {
				return true
			}
		}
		return false
	}
	if len(f.Values) == 0 {
		return false
	}
	c := compare(col, v, f.Values[0])
	switch f.Op {
	case "eq":
		return c == 0
	case "neq":
		return c != 0 && c != incomparable
	case "lt":
		return c == -1
	case "lte":
		return c == -1 || c == 0
	case "gt":
		return c == 1
	case "gte":
		return c == 1 || c == 0
	}
	return false
}

const incomparable = 2

// compare orders a row value and a filter value by the column's type.
func compare(col Column, v, want any) int {
	if v == nil || want == nil {
		return incomparable
	}
	switch col.PGType {
	case "float8", "int8":
		a, ok1 := number(v)
		b, ok2 := number(want)
		if !ok1 || !ok2 {
			return incomparable
		}
		return cmp3(a < b, a > b)
	case "bool":
		a, ok1 := boolean(v)
		b, ok2 := boolean(want)
		if !ok1 || !ok2 {
			return incomparable
		}
		return cmp3(!a && b, a && !b)
	}
	a, b := fmt.Sprint(v), fmt.Sprint(want)
	return cmp3(a < b, a > b)
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func boolean(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}
