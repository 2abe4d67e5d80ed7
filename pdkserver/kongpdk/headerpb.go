package kongpdk

import (
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// AppendReply is a reply a handler encodes itself, straight into the
// connection's frame buffer.
type AppendReply func(b []byte) []byte

// headerReply is kong.request.get_headers' reply: a google.protobuf.Struct
// of the first max lines, keys lower-cased, one string value or a list of
// them per name. It is encoded by hand because it is on client-ip-guard's
// hot path; TestHeaderStructMatchesTable holds it to structpb's encoding.
func headerReply(lines []Header, max int) AppendReply {
	if len(lines) > max {
		lines = lines[:max]
	}
	return func(b []byte) []byte { return appendHeaderStruct(b, lines) }
}

// Field numbers of google.protobuf.Struct, its map entry, Value, ListValue.
const (
	structFields = 1
	entryKey     = 1
	entryValue   = 2
	valueString  = 3
	valueList    = 6
	listValues   = 1
	bytesType    = protowire.BytesType
)

// stringValueSize is the size of Value{string_value: s}.
func stringValueSize(s string) int {
	return protowire.SizeTag(valueString) + protowire.SizeBytes(len(s))
}

func appendHeaderStruct(b []byte, lines []Header) []byte {
	for i, h := range lines {
		first := true
		for _, prev := range lines[:i] {
			if strings.EqualFold(prev.Name, h.Name) {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		count, listSize := 0, 0
		for _, o := range lines[i:] {
			if strings.EqualFold(o.Name, h.Name) {
				count++
				listSize += protowire.SizeTag(listValues) + protowire.SizeBytes(stringValueSize(o.Value))
			}
		}
		valueSize := stringValueSize(h.Value)
		if count > 1 {
			valueSize = protowire.SizeTag(valueList) + protowire.SizeBytes(listSize)
		}
		entrySize := protowire.SizeTag(entryKey) + protowire.SizeBytes(len(h.Name)) +
			protowire.SizeTag(entryValue) + protowire.SizeBytes(valueSize)

		b = protowire.AppendTag(b, structFields, bytesType)
		b = protowire.AppendVarint(b, uint64(entrySize))
		b = protowire.AppendTag(b, entryKey, bytesType)
		b = protowire.AppendVarint(b, uint64(len(h.Name)))
		for j := 0; j < len(h.Name); j++ {
			c := h.Name[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		b = protowire.AppendTag(b, entryValue, bytesType)
		b = protowire.AppendVarint(b, uint64(valueSize))
		if count == 1 {
			b = protowire.AppendTag(b, valueString, bytesType)
			b = protowire.AppendString(b, h.Value)
			continue
		}
		b = protowire.AppendTag(b, valueList, bytesType)
		b = protowire.AppendVarint(b, uint64(listSize))
		for _, o := range lines[i:] {
			if strings.EqualFold(o.Name, h.Name) {
				b = protowire.AppendTag(b, listValues, bytesType)
				b = protowire.AppendVarint(b, uint64(stringValueSize(o.Value)))
				b = protowire.AppendTag(b, valueString, bytesType)
				b = protowire.AppendString(b, o.Value)
			}
		}
	}
	return b
}
