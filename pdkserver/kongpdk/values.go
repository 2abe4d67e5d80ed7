package kongpdk

import (
	"math"
	"sort"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"
)

// luaNull is what Kong's pb_wrap produces for a Lua nil wrapped as a
// google.protobuf.Value: {null_value = 1}, i.e. the bytes 08 01 — not an
// empty frame. go-pdk decodes it as nil.
var luaNull = []byte{0x08, 0x01}

// unwrapValue turns a google.protobuf.Value into what Kong's Lua would
// hold, as pb_unwrap's structpb_value does. Quirk kept: bool false
// unwraps to nil ("v.bool_value or v.string_value or ..."), so storing
// false deletes.
func unwrapValue(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return k.NumberValue
	case *structpb.Value_BoolValue:
		if !k.BoolValue {
			return nil
		}
		return true
	case *structpb.Value_ListValue:
		return unwrapList(k.ListValue)
	case *structpb.Value_StructValue:
		return unwrapStruct(k.StructValue)
	}
	return nil
}

func unwrapList(l *structpb.ListValue) []any {
	out := make([]any, 0, len(l.GetValues()))
	for _, v := range l.GetValues() {
		out = append(out, unwrapValue(v))
	}
	return out
}

func unwrapStruct(s *structpb.Struct) map[string]any {
	out := make(map[string]any, len(s.GetFields()))
	for k, v := range s.GetFields() {
		if u := unwrapValue(v); u != nil {
			out[k] = u
		}
	}
	return out
}

// wrapValue turns a Go value (as stored from unwrapValue, or given by the
// front door) into a google.protobuf.Value the way pb_wrap's
// structpb_value does: a table with a [1] is a list, any other table
// (including an empty list) a struct; nil is null_value 1.
func wrapValue(v any) *structpb.Value {
	switch x := v.(type) {
	case nil:
		return &structpb.Value{Kind: &structpb.Value_NullValue{NullValue: structpb.NullValue(1)}}
	case string:
		return structpb.NewStringValue(x)
	case bool:
		return structpb.NewBoolValue(x)
	case float64:
		return structpb.NewNumberValue(x)
	case float32:
		return structpb.NewNumberValue(float64(x))
	case int:
		return structpb.NewNumberValue(float64(x))
	case int32:
		return structpb.NewNumberValue(float64(x))
	case int64:
		return structpb.NewNumberValue(float64(x))
	case []byte:
		return structpb.NewStringValue(string(x))
	case []string:
		if len(x) == 0 {
			return structpb.NewStructValue(&structpb.Struct{})
		}
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(x))}
		for i, s := range x {
			l.Values[i] = structpb.NewStringValue(s)
		}
		return structpb.NewListValue(l)
	case []any:
		if len(x) == 0 {
			return structpb.NewStructValue(&structpb.Struct{})
		}
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(x))}
		for i, e := range x {
			l.Values[i] = wrapValue(e)
		}
		return structpb.NewListValue(l)
	case map[string]any:
		return structpb.NewStructValue(wrapStruct(x))
	case map[string][]string:
		s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(x))}
		for k, vs := range x {
			s.Fields[k] = wrapValue(vs)
		}
		return structpb.NewStructValue(s)
	}
	// Anything else has no Lua counterpart; Kong would hold a string.
	return structpb.NewStringValue(luaToString(v))
}

func wrapStruct(m map[string]any) *structpb.Struct {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for k, v := range m {
		s.Fields[k] = wrapValue(v)
	}
	return s
}

// luaToString renders a value as Lua's tostring would, for kong.log.*
// argument concatenation.
func luaToString(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return luaNumber(x)
	case int:
		return strconv.Itoa(x)
	case map[string]any, []any:
		return "table: 0x00000000"
	}
	return "userdata"
}

// luaNumber formats a number as LuaJIT's tostring does ("%.14g").
func luaNumber(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
