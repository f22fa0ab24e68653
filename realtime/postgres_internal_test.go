package realtime

import (
	"encoding/json"
	"testing"
)

// Numeric columns become JSON numbers only when they are plain decimal
// numerals. ParseFloat used to let "NaN", "Infinity" and hex floats
// through as raw JSON, and the change then failed every json.Marshal.
func TestNumericColumnsStayValidJSON(t *testing.T) {
	for _, tc := range []struct {
		typ, in, want string
	}{
		{"int8", `"5"`, `5`},
		{"numeric", `"-12.50"`, `-12.50`},
		{"float8", `"1e-7"`, `1e-7`},
		{"float8", `"6.02E+23"`, `6.02E+23`},
		{"float8", `"NaN"`, `"NaN"`},
		{"numeric", `"NaN"`, `"NaN"`},
		{"float4", `"Infinity"`, `"Infinity"`},
		{"float4", `"-Infinity"`, `"-Infinity"`},
		{"float8", `"Inf"`, `"Inf"`},
		{"float8", `"0x1p-2"`, `"0x1p-2"`},
		{"float8", `"+1"`, `"+1"`},
		{"float8", `".5"`, `".5"`},
		{"float8", `"5."`, `"5."`},
		{"int8", `"1_000"`, `"1_000"`},
		{"int8", `"007"`, `"007"`},
		{"int8", `" 5"`, `" 5"`},
		{"int8", `""`, `""`},
		{"int8", `7`, `7`},
		{"int8", `null`, `null`},
	} {
		rec := convertRecord(map[string]json.RawMessage{"v": json.RawMessage(tc.in)}, map[string]string{"v": tc.typ})
		if got := string(rec["v"]); got != tc.want {
			t.Errorf("%s %s → %s, want %s", tc.typ, tc.in, got, tc.want)
		}
		if _, err := json.Marshal(PostgresChange{New: rec}); err != nil {
			t.Errorf("%s %s: the change no longer marshals: %v", tc.typ, tc.in, err)
		}
	}
}
