package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Record holds the fields of a client-ip-guard record (plugin/record) the
// report uses. They are decoded by name, so the order of keys in a line
// does not matter and unknown keys are ignored.
type Record struct {
	Time      string   `json:"time"`
	ClientIP  string   `json:"client_ip"`
	PeerIP    string   `json:"peer_ip"`
	Verdict   string   `json:"verdict"`
	Reasons   []string `json:"reasons"`
	Action    string   `json:"action"`
	Mode      string   `json:"mode"`
	RouteID   string   `json:"route_id"`
	ServiceID string   `json:"service_id"`
}

// Shape says which of the three places a record came from.
type Shape int

// The shapes a line can have.
const (
	// ShapeFile is a line of the file or stdout sink: the record itself.
	ShapeFile Shape = iota
	// ShapeErrorLog is a line of Kong's error log (the kong sink): an
	// nginx prefix, the record as the message, then nginx's ", client:
	// ..., server: ..., request: ..., host: ..." or ", context: ...".
	ShapeErrorLog
	// ShapeLogPlugin is a log plugin's entry (file-log, http-log,
	// tcp-log, ...): kong.log.serialize() with the record under the
	// serializer sink's key.
	ShapeLogPlugin
	numShapes
)

var shapeNames = [numShapes]string{"file", "error_log", "log_plugin"}

// String names the shape as the report prints it.
func (s Shape) String() string { return shapeNames[s] }

// SerializeKey is the key log plugins carry the record under: the
// serializer sink's kong.log.set_serialize_value key (guard.SerializeKey).
const SerializeKey = "client_ip_guard"

// Skip says why a line gave no record.
type Skip int

// Reasons to skip a line.
const (
	// NotSkipped: the line held a record.
	NotSkipped Skip = iota
	// SkipNotRecord: the line holds no record (other log lines, blank
	// lines, JSON that is not a record).
	SkipNotRecord
	// SkipCut: the line starts a record that does not end: cut by a
	// rotation or a crash, or by nginx, which cuts error-log lines at
	// NGX_MAX_ERROR_STR bytes (src/core/ngx_log.h; the plugin fits its
	// kong.log records under it, see record.MaxKongLogBytes).
	SkipCut
	// SkipNoRecord: a log plugin's entry without a record (the request
	// was not recorded, e.g. an ok request under log_when anomalies).
	SkipNoRecord
	// SkipTooLong: the line is longer than MaxLineBytes.
	SkipTooLong
	// SkipBadTime: --since/--until is set and the record's time does
	// not parse.
	SkipBadTime
	numSkips
)

var skipNames = [numSkips]string{"", "not_a_record", "cut", "log_entry_without_record", "too_long", "bad_time"}

// String names the reason as the report prints it.
func (s Skip) String() string { return skipNames[s] }

// MaxLineBytes is the longest line read; longer lines are skipped whole
// (a log plugin's entry with all request headers stays well under it).
const MaxLineBytes = 1 << 20

// ParseLine finds the records in one line, calling emit for each: one for
// the file sink and the error log, one or more for a log plugin's entry
// (http-log may send a JSON array of entries). It returns why the line
// gave no record, or NotSkipped.
func ParseLine(line []byte, emit func(*Record, Shape)) Skip {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return SkipNotRecord
	}
	switch line[0] {
	case '{':
		return parseObject(line, emit)
	case '[':
		var entries []json.RawMessage
		if err := json.Unmarshal(line, &entries); err != nil {
			return cutOrNot(line)
		}
		skip := SkipNotRecord
		for _, e := range entries {
			if s := parseObject(e, emit); s == NotSkipped || skip == SkipNotRecord {
				skip = s
			}
		}
		return skip
	}
	return parseErrorLog(line, emit)
}

// entry decodes a JSON line of either JSON shape in one pass.
type entry struct {
	Record
	Serialized json.RawMessage `json:"client_ip_guard"`
	StartedAt  json.RawMessage `json:"started_at"`
}

// decodeErr drops type mismatches: a field of an unexpected type is left
// empty and the rest still decodes. Kong hands the serializer's record to
// log plugins as a Lua table, so an empty reasons list arrives as {}.
func decodeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

func parseObject(line []byte, emit func(*Record, Shape)) Skip {
	var e entry
	if err := decodeErr(json.Unmarshal(line, &e)); err != nil {
		return cutOrNot(line)
	}
	if len(e.Serialized) > 0 && !bytes.Equal(e.Serialized, []byte("null")) {
		var r Record
		if decodeErr(json.Unmarshal(e.Serialized, &r)) != nil || r.Verdict == "" {
			return SkipNotRecord
		}
		emit(&r, ShapeLogPlugin)
		return NotSkipped
	}
	if e.Verdict != "" {
		emit(&e.Record, ShapeFile)
		return NotSkipped
	}
	if len(e.StartedAt) > 0 {
		return SkipNoRecord
	}
	return SkipNotRecord
}

// parseErrorLog takes the record from an error-log line. Whatever nginx
// put before it (date, level, pid#tid, *connection, Kong's "[kong]
// pb_rpc.lua:N", a "[client-ip-guard]" namespace when there is one) is
// skipped up to the first `{"`, and whatever follows the JSON value
// (", client: ...", ", context: ...") is ignored.
func parseErrorLog(line []byte, emit func(*Record, Shape)) Skip {
	i := bytes.Index(line, []byte(`{"`))
	if i < 0 {
		return SkipNotRecord
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line[i:]))
	if err := decodeErr(dec.Decode(&r)); err != nil {
		return cutOrNot(line[i:])
	}
	if r.Verdict == "" {
		return SkipNotRecord
	}
	emit(&r, ShapeErrorLog)
	return NotSkipped
}

// cutOrNot tells a record that does not decode (cut) from other text:
// a record's keys, or the serializer's, in what is left of it.
func cutOrNot(b []byte) Skip {
	for _, k := range recordKeys {
		if bytes.Contains(b, k) {
			return SkipCut
		}
	}
	return SkipNotRecord
}

var recordKeys = [][]byte{[]byte(`"verdict"`), []byte(`"peer_ip"`), []byte(`"client_ip"`), []byte(`"` + SerializeKey + `"`)}

// lineReader reads lines of at most MaxLineBytes without holding more.
type lineReader struct {
	br   *bufio.Reader
	buf  []byte
	read int64
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its newline, whether it was too
// long (then its bytes are dropped), and io.EOF after the last line.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		l.read += int64(len(chunk))
		if !tooLong {
			if len(l.buf)+len(chunk) > MaxLineBytes+1 {
				tooLong, l.buf = true, l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(l.buf, []byte("\n")), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(l.buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return l.buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}
