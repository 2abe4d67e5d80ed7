package pluginsrv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// maxFrame bounds one frame from the plugin. Kong has no limit of its own
// (lua cosockets read what the length says); a bound keeps a corrupt
// length from allocating gigabytes here.
const maxFrame = 64 << 20

// errFrameTooLarge reports a length prefix beyond maxFrame.
var errFrameTooLarge = errors.New("frame length exceeds 64 MiB")

// conn is one Unix-socket connection to the plugin server. It carries one
// RPC at a time, as a Kong cosocket does, and reuses its buffers across
// frames and RPCs.
type conn struct {
	c   *net.UnixConn
	br  *bufio.Reader // go-pdk writes a length and its payload separately; one read often gets both
	gen uint64        // plugin-server generation it was dialled against
	hdr [4]byte
	rb  []byte // read buffer; a returned frame aliases it until the next read
	wb  []byte // write buffer: length prefix + payload, written at once
}

// readFrame reads one length-prefixed frame. The result aliases c.rb and
// is valid until the next readFrame.
func (c *conn) readFrame() ([]byte, error) {
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(c.hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
	}
	if cap(c.rb) < int(n) {
		c.rb = make([]byte, n)
	}
	b := c.rb[:n]
	if _, err := io.ReadFull(c.br, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// writeFrame writes payload with its little-endian uint32 length in a
// single write. A nil or empty payload is the zero-length frame.
func (c *conn) writeFrame(payload []byte) error {
	b, err := c.encodeFrame(payload)
	if err != nil {
		return err
	}
	return c.writeRaw(b)
}

// beginFrame starts a frame in c.wb so that a payload can be marshalled
// straight into it; finishFrame fills in the length and writes it.
func (c *conn) beginFrame() []byte {
	return append(c.wb[:0], 0, 0, 0, 0)
}

// finishFrame patches the length of a frame started with beginFrame and
// writes it.
func (c *conn) finishFrame(b []byte) error {
	binary.LittleEndian.PutUint32(b, uint32(len(b)-4))
	c.wb = b
	_, err := c.c.Write(b)
	return err
}

// newConn wraps a dialled socket.
func newConn(uc *net.UnixConn, gen uint64) *conn {
	return &conn{c: uc, br: bufio.NewReaderSize(uc, 4096), gen: gen, rb: make([]byte, 0, 512), wb: make([]byte, 0, 512)}
}

// writeRaw writes bytes that already carry their length prefix.
func (c *conn) writeRaw(frame []byte) error {
	_, err := c.c.Write(frame)
	return err
}

// setDeadline bounds every read and write that follows.
func (c *conn) setDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// close closes the socket; the plugin side then sees EOF.
func (c *conn) close() error { return c.c.Close() }
