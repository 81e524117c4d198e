package chat

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// environment is gonja's default environment with tojson replaced by the
// one transformers gives chat templates: Python's json.dumps with
// ensure_ascii off, ", " and ": " separators (or "," and newlines with
// indent), and no HTML escaping. gonja's own tojson writes Go's compact
// JSON, which would change how tool definitions render.
var environment = func() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{})
	filters.Update(builtins.Filters)
	if err := filters.Replace("tojson", pyToJSON); err != nil {
		panic(err) // gonja always has tojson
	}
	return &exec.Environment{
		Context:           gonja.DefaultContext,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           builtins.Methods,
	}
}()

func pyToJSON(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	indent := -1
	if v := params.GetKeywordArgument("indent", nil); !v.IsNil() {
		if !v.IsInteger() {
			return exec.AsValue(fmt.Errorf("tojson: indent must be an integer, got %s", v.String()))
		}
		indent = v.Integer()
	}
	var sb strings.Builder
	if err := writePyJSON(&sb, in.Interface(), indent, 0); err != nil {
		return exec.AsValue(fmt.Errorf("tojson: %w", err))
	}
	return exec.AsSafeValue(sb.String())
}

// writePyJSON writes v as Python's json.dumps(v, ensure_ascii=False,
// indent=indent) would (indent < 0: None). Go maps have no order, so
// their keys are sorted; template dict literals keep their order.
func writePyJSON(sb *strings.Builder, v any, indent, level int) error {
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
		return nil
	case *exec.Value:
		return writePyJSON(sb, x.Interface(), indent, level)
	case *exec.Dict:
		keys := make([]string, len(x.Pairs))
		vals := make([]any, len(x.Pairs))
		for i, p := range x.Pairs {
			keys[i], vals[i] = p.Key.String(), p.Value
		}
		return writeObject(sb, keys, vals, indent, level)
	case exec.Dict:
		return writePyJSON(sb, &x, indent, level)
	case string:
		writePyString(sb, x)
		return nil
	case bool:
		if x {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
		return nil
	case float64:
		writePyFloat(sb, x)
		return nil
	case float32:
		writePyFloat(sb, float64(x))
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		sb.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		sb.WriteString(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Slice, reflect.Array:
		if rv.Len() == 0 {
			sb.WriteString("[]")
			return nil
		}
		sb.WriteByte('[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				sb.WriteByte(',')
				if indent < 0 {
					sb.WriteByte(' ')
				}
			}
			newline(sb, indent, level+1)
			if err := writePyJSON(sb, rv.Index(i).Interface(), indent, level+1); err != nil {
				return err
			}
		}
		newline(sb, indent, level)
		sb.WriteByte(']')
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		byKey := map[string]any{}
		for _, k := range rv.MapKeys() {
			ks := fmt.Sprint(k.Interface())
			keys = append(keys, ks)
			byKey[ks] = rv.MapIndex(k).Interface()
		}
		sort.Strings(keys)
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = byKey[k]
		}
		return writeObject(sb, keys, vals, indent, level)
	case reflect.Pointer:
		if rv.IsNil() {
			sb.WriteString("null")
			return nil
		}
		return writePyJSON(sb, rv.Elem().Interface(), indent, level)
	default:
		return fmt.Errorf("cannot encode a %T", v)
	}
	return nil
}

func writeObject(sb *strings.Builder, keys []string, vals []any, indent, level int) error {
	if len(keys) == 0 {
		sb.WriteString("{}")
		return nil
	}
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
			if indent < 0 {
				sb.WriteByte(' ')
			}
		}
		newline(sb, indent, level+1)
		writePyString(sb, k)
		sb.WriteString(": ")
		if err := writePyJSON(sb, vals[i], indent, level+1); err != nil {
			return err
		}
	}
	newline(sb, indent, level)
	sb.WriteByte('}')
	return nil
}

func newline(sb *strings.Builder, indent, level int) {
	if indent >= 0 {
		sb.WriteByte('\n')
		sb.WriteString(strings.Repeat(" ", indent*level))
	}
}

// writePyString escapes as Python's json module with ensure_ascii=False:
// quotes, backslashes and control characters only.
func writePyString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(sb, `\u%04x`, r)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// writePyFloat writes a number as Python would after parsing the same
// JSON: integral values (JSON numbers decode to float64 in Go) as
// integers, others in Python's shortest repr.
func writePyFloat(sb *strings.Builder, f float64) {
	switch {
	case math.IsNaN(f):
		sb.WriteString("NaN")
	case math.IsInf(f, 1):
		sb.WriteString("Infinity")
	case math.IsInf(f, -1):
		sb.WriteString("-Infinity")
	case f == math.Trunc(f) && math.Abs(f) < 1e16:
		sb.WriteString(strconv.FormatInt(int64(f), 10))
	default:
		exp := math.Floor(math.Log10(math.Abs(f)))
		if exp < -4 || exp >= 16 {
			s := strconv.FormatFloat(f, 'e', -1, 64)
			// Python writes e-05 / e+16 with at least two exponent digits, as Go does.
			sb.WriteString(s)
		} else {
			sb.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
		}
	}
}
