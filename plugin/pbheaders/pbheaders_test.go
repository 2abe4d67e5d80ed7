package pbheaders

import (
	"errors"
	"sort"
	"testing"

	"github.com/Kong/go-pdk/bridge"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// encode writes headers as Kong does (lua-protobuf: bytes as given, no
// UTF-8 check): one map entry per name, a string for one line, a list for
// several. Names are sorted so the output is deterministic.
func encode(h map[string][]string) []byte {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []byte
	for _, k := range names {
		vs := h[k]
		var val []byte
		if len(vs) == 1 {
			val = protowire.AppendTag(val, valueString, protowire.BytesType)
			val = protowire.AppendString(val, vs[0])
		} else {
			var list []byte
			for _, v := range vs {
				var elem []byte
				elem = protowire.AppendTag(elem, valueString, protowire.BytesType)
				elem = protowire.AppendString(elem, v)
				list = protowire.AppendTag(list, listValues, protowire.BytesType)
				list = protowire.AppendBytes(list, elem)
			}
			val = protowire.AppendTag(val, valueList, protowire.BytesType)
			val = protowire.AppendBytes(val, list)
		}
		var entry []byte
		entry = protowire.AppendTag(entry, entryKey, protowire.BytesType)
		entry = protowire.AppendString(entry, k)
		entry = protowire.AppendTag(entry, entryValue, protowire.BytesType)
		entry = protowire.AppendBytes(entry, val)
		out = protowire.AppendTag(out, structFields, protowire.BytesType)
		out = protowire.AppendBytes(out, entry)
	}
	return out
}

func collect(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	require.NoError(t, Walk(b, func(name, value []byte) {
		got[string(name)] = append(got[string(name)], string(value))
	}))
	return got
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name string
		h    map[string][]string
	}{
		{"none", map[string][]string{}},
		{"one line", map[string][]string{"x-forwarded-for": {"203.0.113.7, 10.0.0.1"}}},
		{"several lines keep their order", map[string][]string{"x-forwarded-for": {"3.3.3.3", "1.1.1.1", "2.2.2.2"}, "host": {"a"}}},
		{"empty value", map[string][]string{"x-real-ip": {""}}},
		{"bytes nginx accepts and proto3 strings do not", map[string][]string{
			"x-forwarded-for": {"\xc3\x28\xff\xfe, 203.0.113.7"},
			"x-file":          {"r\xe9sum\xe9.pdf", "\x80"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, encode(tc.h))
			assert.Equal(t, tc.h, got)
		})
	}
}

// TestWalkMatchesGoPDK: for valid UTF-8, Walk reads what go-pdk's
// Request.GetHeaders returns (structpb decoding and bridge.UnwrapHeaders),
// including replies marshalled by Go's protobuf runtime.
func TestWalkMatchesGoPDK(t *testing.T) {
	h := map[string][]string{
		"x-forwarded-for": {"198.51.100.1", "203.0.113.7"},
		"x-real-ip":       {"10.0.0.1"},
		"forwarded":       {`for="[2001:db8::1]:4711"`},
		"host":            {"example.com"},
	}
	st, err := bridge.WrapHeaders(h)
	require.NoError(t, err)
	for _, b := range [][]byte{encode(h), mustMarshal(t, st)} {
		var dec structpb.Struct
		require.NoError(t, proto.Unmarshal(b, &dec))
		assert.Equal(t, bridge.UnwrapHeaders(&dec), collect(t, b))
	}

	// The case this package exists for: go-pdk refuses the reply.
	bad := encode(map[string][]string{"x-forwarded-for": {"\xff, 203.0.113.7"}})
	var dec structpb.Struct
	assert.Error(t, proto.Unmarshal(bad, &dec), "go-pdk's decoding rejects invalid UTF-8")
	assert.Equal(t, map[string][]string{"x-forwarded-for": {"\xff, 203.0.113.7"}}, collect(t, bad))
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestWalkOddValues(t *testing.T) {
	// A number, a nested list and a null: never sent by Kong, each read as
	// an empty line rather than an error.
	num := protowire.AppendTag(nil, 2, protowire.Fixed64Type)
	num = protowire.AppendFixed64(num, 42)
	inner := protowire.AppendTag(nil, listValues, protowire.BytesType)
	inner = protowire.AppendBytes(inner, protowire.AppendString(protowire.AppendTag(nil, valueString, protowire.BytesType), "x"))
	nested := protowire.AppendTag(nil, valueList, protowire.BytesType)
	nested = protowire.AppendBytes(nested, inner)
	list := protowire.AppendTag(nil, listValues, protowire.BytesType)
	list = protowire.AppendBytes(list, nested)
	listVal := protowire.AppendTag(nil, valueList, protowire.BytesType)
	listVal = protowire.AppendBytes(listVal, list)
	var b []byte
	for _, e := range []struct {
		k string
		v []byte
	}{{"n", num}, {"l", listVal}} {
		entry := protowire.AppendString(protowire.AppendTag(nil, entryKey, protowire.BytesType), e.k)
		entry = protowire.AppendBytes(protowire.AppendTag(entry, entryValue, protowire.BytesType), e.v)
		b = protowire.AppendBytes(protowire.AppendTag(b, structFields, protowire.BytesType), entry)
	}
	keyOnly := protowire.AppendString(protowire.AppendTag(nil, entryKey, protowire.BytesType), "z")
	b = protowire.AppendBytes(protowire.AppendTag(b, structFields, protowire.BytesType), keyOnly)
	assert.Equal(t, map[string][]string{"n": {""}, "l": {""}, "z": {""}}, collect(t, b))
}

func TestWalkMalformed(t *testing.T) {
	good := encode(map[string][]string{"x-forwarded-for": {"1.2.3.4", "5.6.7.8"}})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"truncated tag", []byte{0x80}},
		{"length beyond the data", []byte{0x0a, 0x05, 0x0a}},
		{"cut in the middle", good[:len(good)-3]},
		{"bad wire type", []byte{0x0f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Walk(tc.b, func(name, value []byte) {})
			assert.True(t, errors.Is(err, ErrMalformed), "%v", err)
		})
	}
}

func TestWalkAllocs(t *testing.T) {
	b := encode(map[string][]string{"x-forwarded-for": {"198.51.100.1", "203.0.113.7"}, "host": {"a"}, "user-agent": {"curl"}})
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		_ = Walk(b, func(name, value []byte) { n += len(value) })
	})
	assert.Zero(t, allocs)
}

func FuzzWalk(f *testing.F) {
	f.Add(encode(map[string][]string{"x-forwarded-for": {"1.2.3.4", "\xff"}}))
	f.Add(encode(map[string][]string{"host": {"a"}}))
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string][]string{}
		err := Walk(b, func(name, value []byte) {
			got[string(name)] = append(got[string(name)], string(value))
		})
		// Where Go's protobuf runtime decodes the reply, Walk agrees with
		// go-pdk on every header go-pdk keeps (go-pdk drops values that
		// are neither strings nor lists; Walk reads them as "").
		var st structpb.Struct
		if proto.Unmarshal(b, &st) != nil {
			return
		}
		require.NoError(t, err, "Go's protobuf decodes %x", b)
		for k, vs := range bridge.UnwrapHeaders(&st) {
			if len(vs) == 0 {
				continue // an empty list: no line to visit (Kong never sends one)
			}
			if !onlyStrings(st.Fields[k]) {
				// A number, bool, null or struct (Kong never sends one):
				// structpb turns NaN and infinities into strings, Walk
				// reads any such value as "".
				continue
			}
			g := got[k]
			require.GreaterOrEqual(t, len(g), len(vs), "header %q", k)
			// duplicate map entries: protobuf keeps the last, Walk visits all
			assert.Equal(t, vs, g[len(g)-len(vs):], "header %q", k)
		}
	})
}

// onlyStrings reports whether v is a string or a list of strings only.
func onlyStrings(v *structpb.Value) bool {
	if _, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return true
	}
	l, ok := v.GetKind().(*structpb.Value_ListValue)
	if !ok {
		return false
	}
	for _, e := range l.ListValue.GetValues() {
		if _, ok := e.GetKind().(*structpb.Value_StringValue); !ok {
			return false
		}
	}
	return true
}
