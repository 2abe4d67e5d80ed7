package nginxdiff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
)

// Answer is nginx's reply to one request sent over one connection.
type Answer struct {
	// Closed is set when nginx closed the connection without answering
	// (what it does on a PROXY header it cannot read).
	Closed bool
	// Status is the HTTP status code when nginx answered.
	Status int
	// Vars are the six echoed variables, in nginxconf.EchoReturn order:
	// $remote_addr $remote_port $realip_remote_addr $realip_remote_port
	// $proxy_protocol_addr $proxy_protocol_port. Empty variables are "".
	Vars [6]string
	// Local is the client socket's address, i.e. the peer nginx saw.
	Local netip.AddrPort
	// Raw is the full response.
	Raw []byte
}

// String renders the variables as the response body did, or the status or
// "closed".
func (a Answer) String() string {
	switch {
	case a.Closed:
		return "closed without a response"
	case a.Status != 200:
		return fmt.Sprintf("HTTP %d: %q", a.Status, a.Raw)
	}
	return strings.Join(a.Vars[:], " ")
}

// Chunk is a piece of the bytes to send and the pause before sending the
// next one.
type Chunk struct {
	Data  []byte
	Pause time.Duration
}

// Send connects from local (port chosen by the kernel) to target, writes
// chunks in order and reads until nginx closes the connection. The request
// in the chunks should carry "Connection: close".
func Send(local netip.Addr, target netip.AddrPort, chunks []Chunk, timeout time.Duration) (Answer, error) {
	var ip net.IP
	if local.IsValid() {
		ip = local.AsSlice()
	}
	d := loopback.Dialer(ip, timeout)
	conn, err := d.Dial("tcp", target.String())
	if err != nil {
		return Answer{}, fmt.Errorf("dial %s from %s: %w", target, local, err)
	}
	defer conn.Close()
	ans := Answer{Local: conn.LocalAddr().(*net.TCPAddr).AddrPort()}
	ans.Local = netip.AddrPortFrom(ans.Local.Addr().Unmap(), ans.Local.Port())
	_ = conn.SetDeadline(time.Now().Add(timeout))
	for _, c := range chunks {
		if _, err := conn.Write(c.Data); err != nil {
			// nginx may close early (a broken PROXY header); what it sent
			// back, if anything, still decides the answer.
			break
		}
		if c.Pause > 0 {
			time.Sleep(c.Pause)
		}
	}
	raw, err := io.ReadAll(conn)
	if err != nil && len(raw) == 0 {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return ans, fmt.Errorf("no answer from %s within %s", target, timeout)
		}
		// A reset after nginx dropped the connection: no answer.
		ans.Closed = true
		return ans, nil
	}
	ans.Raw = raw
	if len(raw) == 0 {
		ans.Closed = true
		return ans, nil
	}
	return ans, ans.parse()
}

func (a *Answer) parse() error {
	head, body, ok := bytes.Cut(a.Raw, []byte("\r\n\r\n"))
	if !ok {
		return fmt.Errorf("malformed response %q", a.Raw)
	}
	if _, err := fmt.Sscanf(string(head), "HTTP/1.1 %d", &a.Status); err != nil {
		return fmt.Errorf("malformed status line in %q", a.Raw)
	}
	if a.Status != 200 {
		return nil
	}
	line, ok := bytes.CutSuffix(body, []byte("\n"))
	if !ok {
		return fmt.Errorf("body %q does not end in a newline", body)
	}
	f := strings.Split(string(line), " ")
	if len(f) != len(a.Vars) {
		return fmt.Errorf("body %q has %d fields, want %d", body, len(f), len(a.Vars))
	}
	copy(a.Vars[:], f)
	return nil
}
