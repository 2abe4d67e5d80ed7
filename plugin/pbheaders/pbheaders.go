// Package pbheaders reads Kong's reply to kong.request.get_headers as the
// bytes Kong sent, without the UTF-8 check that Go's protobuf runtime
// applies to proto3 string fields.
//
// The reply is a google.protobuf.Struct: one map entry per header name,
// whose value is a string (one line) or a list of strings (several lines).
// Kong encodes it with lua-protobuf, which copies Lua strings byte for byte,
// and nginx accepts any byte from 0x80 up in a header value. go-pdk's
// Request.GetHeaders decodes into structpb.Struct, so a single such byte in
// any header (a Latin-1 file name, or a client probing) makes the call fail
// and a plugin built on it fail the request. Walk decodes the same wire
// format by hand: header bytes are hostile input, not text.
package pbheaders

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of google.protobuf.Struct, its map entry, Value and
// ListValue (google/protobuf/struct.proto).
const (
	structFields   = 1 // Struct.fields: repeated map entry
	entryKey       = 1 // map entry key: string
	entryValue     = 2 // map entry value: Value
	valueNull      = 1 // Value.null_value (the oneof's other kinds: 1, 2, 4, 5)
	valueNumber    = 2 // Value.number_value
	valueString    = 3 // Value.string_value
	valueBool      = 4 // Value.bool_value
	valueStruct    = 5 // Value.struct_value
	valueList      = 6 // Value.list_value
	listValues     = 1 // ListValue.values: repeated Value
	maxListNesting = 1 // header values are strings or lists of strings
)

// ErrMalformed is wrapped by every decoding error (of get_headers or
// get_var replies).
var ErrMalformed = errors.New("malformed reply from Kong")

// Walk calls visit once per header line in b, a serialized Struct: with
// the header's name and the line's value, in Kong's order within a name.
// A value that is neither a string nor a list of strings (Kong never sends
// one) is visited as an empty line, as go-pdk's unwrapping does for list
// elements. The slices alias b and are valid only during the call. Walk
// does not allocate.
func Walk(b []byte, visit func(name, value []byte)) error {
	for len(b) > 0 {
		num, typ, v, rest, err := next(b)
		if err != nil {
			return err
		}
		isBytes := typ == protowire.BytesType
		b = rest
		if num == structFields && isBytes {
			if err := walkEntry(v, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// next reads the first field of b: its number, its wire type and, when it
// is length-delimited, its bytes; a field of another wire type is skipped.
// rest is what follows the field.
func next(b []byte) (num protowire.Number, typ protowire.Type, v []byte, rest []byte, err error) {
	var n int
	num, typ, n = protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
	}
	b = b[n:]
	if typ == protowire.BytesType {
		v, n = protowire.ConsumeBytes(b)
	} else {
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
	}
	return num, typ, v, b[n:], nil
}

// walkEntry decodes one map entry: key and Value, in either order (the
// wire format allows both; the last occurrence of a field wins).
func walkEntry(b []byte, visit func(name, value []byte)) error {
	var key, value []byte
	var hasValue bool
	for len(b) > 0 {
		num, typ, v, rest, err := next(b)
		if err != nil {
			return err
		}
		isBytes := typ == protowire.BytesType
		b = rest
		switch {
		case num == entryKey && isBytes:
			key = v
		case num == entryValue && isBytes:
			value, hasValue = v, true
		}
	}
	if !hasValue {
		visit(key, nil)
		return nil
	}
	return walkValue(key, value, 0, visit)
}

// walkValue visits a Value: a string is one line, a list one line per
// element; anything else is an empty line. The last oneof case on the
// wire wins, as in protobuf.
func walkValue(key, b []byte, depth int, visit func(name, value []byte)) error {
	var last protowire.Number // the oneof case seen last (0: neither string nor list)
	var str, list []byte
	for len(b) > 0 {
		num, typ, v, rest, err := next(b)
		if err != nil {
			return err
		}
		isBytes := typ == protowire.BytesType
		b = rest
		switch {
		case num == valueString && isBytes:
			last, str = num, v
		case num == valueList && isBytes:
			last, list = num, v
		case otherKind(num, typ):
			last = 0 // another case of the oneof
		}
		// A field outside the oneof, or one of its numbers with the wrong
		// wire type, is an unknown field to Go's protobuf runtime and
		// changes nothing.
	}
	switch {
	case last == valueString:
		visit(key, str)
	case last == valueList && depth < maxListNesting:
		return walkList(key, list, depth+1, visit)
	default:
		visit(key, nil)
	}
	return nil
}

// otherKind reports whether field num with wire type typ is one of
// Value's other kinds: null_value (1, enum), number_value (2, double),
// bool_value (4, bool) or struct_value (5, message).
func otherKind(num protowire.Number, typ protowire.Type) bool {
	switch num {
	case valueNull, valueBool:
		return typ == protowire.VarintType
	case valueNumber:
		return typ == protowire.Fixed64Type
	case valueStruct:
		return typ == protowire.BytesType
	}
	return false
}

// walkList visits each Value of a ListValue.
func walkList(key, b []byte, depth int, visit func(name, value []byte)) error {
	for len(b) > 0 {
		num, typ, v, rest, err := next(b)
		if err != nil {
			return err
		}
		isBytes := typ == protowire.BytesType
		b = rest
		if num == listValues && isBytes {
			if err := walkValue(key, v, depth, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// stringValue is kong_plugin_protocol.String's one field, v.
const stringValue = 1

// String reads a serialized kong_plugin_protocol.String (the reply to
// kong.nginx.get_var) as the bytes Kong sent: a variable built from header
// values may hold any byte, which go-pdk's own decoding would refuse as
// invalid UTF-8. The last occurrence of the field wins, as in protobuf; an
// absent field is the empty string (Kong's reply for a nil variable). The
// slice aliases b.
func String(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		num, typ, v, rest, err := next(b)
		if err != nil {
			return nil, err
		}
		if num == stringValue && typ == protowire.BytesType {
			out = v
		}
		b = rest
	}
	return out, nil
}
