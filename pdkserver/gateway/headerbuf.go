package gateway

import (
	"math"
	"net/http"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// nginx's defaults for the request header buffers; Kong's template sets
// neither directive.
const (
	defaultClientHeaderBufferSize = 1024 // client_header_buffer_size 1k
	defaultLargeHeaderBuffersNum  = 4    // large_client_header_buffers 4 8k
	defaultLargeHeaderBuffersSize = 8192
)

// HeaderBuffers are nginx's request header buffers, as kong.conf's
// nginx_http_/nginx_proxy_client_header_buffer_size and
// large_client_header_buffers set them. A zero field means nginx's default.
type HeaderBuffers struct {
	// ClientSize is client_header_buffer_size (default 1024).
	ClientSize int
	// LargeNum and LargeSize are large_client_header_buffers' number and
	// size (default 4 and 8192).
	LargeNum  int
	LargeSize int
}

// resolved fills the zero fields with nginx's defaults.
func (b HeaderBuffers) resolved() HeaderBuffers {
	if b.ClientSize <= 0 {
		b.ClientSize = defaultClientHeaderBufferSize
	}
	if b.LargeNum <= 0 {
		b.LargeNum = defaultLargeHeaderBuffersNum
	}
	if b.LargeSize <= 0 {
		b.LargeSize = defaultLargeHeaderBuffersSize
	}
	return b
}

// minGoHeaderBytes is the least http.Server.MaxHeaderBytes the gateway
// uses, so that the usual oversized requests (a 64 KiB header, thousands of
// X-Forwarded-For entries) reach the nginx model and get Kong's 400 rather
// than net/http's own 431.
const minGoHeaderBytes = 1 << 20

// maxGoHeaderBytes is the http.Server.MaxHeaderBytes for these buffers.
// nginx never accepts more than ClientSize + LargeNum*LargeSize bytes of
// request line and headers, so net/http must read at least that much (plus
// slack) for the model to decide; it reads at least minGoHeaderBytes, so
// that only requests larger than that (which nginx refuses too) get
// net/http's 431 instead of Kong's 400.
func (b HeaderBuffers) maxGoHeaderBytes() int {
	b = b.resolved()
	const slack = 4 << 10
	limit := math.MaxInt32 // far beyond any real head; keeps the sum from overflowing
	if b.LargeNum > (limit-b.ClientSize-slack)/b.LargeSize {
		return limit
	}
	return max(b.ClientSize+b.LargeNum*b.LargeSize+slack, minGoHeaderBytes)
}

// nginxHeaderStatus models how nginx (ngx_http_process_request_line,
// ngx_http_process_request_headers and ngx_http_alloc_large_header_buffer)
// fits a request's head into its buffers, and returns 0 when nginx would
// read the whole head, or the status it refuses the request with: 414 when
// the request line does not fit, 400 when a header line does not (nginx's
// internal 494, which Kong's error page answers as 400).
//
// requestLine and each of headerLines are line lengths in bytes including
// their CRLF, in the order the client sent them; the empty line ending the
// head (2 bytes) is added here. The rule: the head is read into the
// ClientSize buffer; whenever the current buffer is full, nginx takes a
// new LargeSize buffer (at most LargeNum per request) and, when the buffer
// ended inside a line, moves that line's bytes so far into it; the request
// is refused when no buffer is left or when the part of a line to move is
// already LargeSize bytes or more. So a line of LargeSize bytes (CRLF
// included) is the longest accepted, lines never span buffers once moved,
// and the space a moved line left in the buffer it came from is lost.
//
// It models a fresh connection whose first read starts with the request:
// a PROXY protocol header that arrives in the same read as the request
// takes room in the first buffer in nginx, which is not modelled; nor are
// buffers kept from an earlier request on a kept-alive connection
// (pipelining), or blank lines before the request line.
func nginxHeaderStatus(requestLine int, headerLines []int, bufs HeaderBuffers) int {
	b := bufs.resolved()
	capacity, used, large := b.ClientSize, 0, 0
	// place puts one line of n bytes into the buffers, reporting whether
	// nginx finds room for it.
	place := func(n int) bool {
		// used is where the line starts in the current buffer.
		for used+n > capacity {
			// The buffer fills up before the line ends (or ended with the
			// previous line): the capacity-used bytes of the line read so
			// far move to the start of a new buffer.
			if capacity-used >= b.LargeSize || large == b.LargeNum {
				return false
			}
			large++
			capacity, used = b.LargeSize, 0
		}
		used += n
		return true
	}
	if !place(requestLine) {
		return http.StatusRequestURITooLong
	}
	for _, n := range headerLines {
		if !place(n) {
			return http.StatusBadRequest
		}
	}
	if !place(2) {
		return http.StatusBadRequest
	}
	return 0
}

// headLengths reconstructs the line lengths nginx would have read for r,
// given r's header lines as headerLines lists them. net/http keeps neither
// the raw lines nor their order across header names, so this is an
// approximation: the request line is taken as "Method SP request-target SP
// protocol CRLF" and each header line as "Name: value CRLF" (one space
// after the colon, no trailing blanks, the name as net/http canonicalised
// it, which keeps its length), in headerLines' order: Host first, then the
// other names sorted, each name's lines in the order sent. A
// Transfer-Encoding line, which net/http moves out of the header map, is
// counted as "Transfer-Encoding: <codings>". A client that sends other
// blanks, folded lines or its headers in another order can therefore be
// judged otherwise than by nginx when its head is close to the limits.
func headLengths(r *http.Request, lines []kongpdk.Header) (int, []int) {
	reqLine := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	out := make([]int, 0, len(lines)+1)
	for _, h := range lines {
		out = append(out, len(h.Name)+2+len(h.Value)+2)
	}
	if len(r.TransferEncoding) > 0 {
		out = append(out, len("Transfer-Encoding: ")+len(strings.Join(r.TransferEncoding, ", "))+2)
	}
	return reqLine, out
}

// Kong's answers when nginx refuses a request head: nginx's 494 (header
// too large) and 414 go through error_page to kong/error_handlers.lua
// (kong/templates/nginx_kong.lua:100-101 at 3.9.3), which turns 494 into
// 400 (error_handlers.lua:62-67) and writes BODIES[status]
// (error_handlers.lua:13-28) into the default text/plain template,
// "%s\nrequest_id: %s\n" (kong/tools/http.lua:414; error_default_type,
// kong/templates/kong_defaults.lua:74).
const (
	msgHeaderTooLarge = "Request header or cookie too large"
	msgURITooLong     = "URI too long"
)

// plainError is Kong's text/plain error body.
func plainError(msg, requestID string) string {
	return msg + "\nrequest_id: " + requestID + "\n"
}

// refuseHead answers r as Kong does when nginx's header buffers cannot
// hold its head, and reports whether it did. HTTP/2 requests are not
// checked: nginx limits them differently (per field and in total, with a
// connection error rather than a response). all is every header line read,
// those nginx then ignores included.
func (g *Gateway) refuseHead(w http.ResponseWriter, r *http.Request, x *Exchange, all []kongpdk.Header) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	reqLine, lines := headLengths(r, all)
	status := nginxHeaderStatus(reqLine, lines, g.opts.Node.HeaderBuffers)
	if status == 0 {
		return false
	}
	body := plainError(msgHeaderTooLarge, x.ID)
	if status == http.StatusRequestURITooLong {
		body = plainError(msgURITooLong, x.ID)
		g.logf("[info] client sent too long URI, client: %s, request id: %s", x.Request.Vars.RealIPRemoteAddr, x.ID)
	} else {
		g.logf("[info] client sent too long header line or too large request, client: %s, request id: %s", x.Request.Vars.RealIPRemoteAddr, x.ID)
	}
	// nginx closes the connection after refusing a head.
	w.Header().Set("Connection", "close")
	g.respond(w, x, status, "error", body, "text/plain; charset=utf-8")
	return true
}
