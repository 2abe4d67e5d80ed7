package kongpdk

import (
	"regexp"
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// phaseMask is a set of Kong phases, for the PDK's phase checks.
type phaseMask uint8

const (
	phRewrite phaseMask = 1 << iota
	phAccess
	phResponse
	phLog
	phCertificate
	phPreread

	phAny = ^phaseMask(0)
)

// phaseBits maps an event name to its phaseMask bit (0 for unknown names,
// which then pass no phase check but phAny).
func phaseBits(phase string) phaseMask {
	switch phase {
	case "rewrite":
		return phRewrite
	case "access":
		return phAccess
	case "response":
		return phResponse
	case "log":
		return phLog
	case "certificate":
		return phCertificate
	case "preread":
		return phPreread
	}
	return 0
}

// pdkFunc answers one PDK call. args is the raw input message. The reply
// is nil (zero-length frame, Lua nil), a proto.Message, or []byte sent
// verbatim. A non-nil error is a Lua error inside Kong: the event aborts.
type pdkFunc func(ev *Event, args []byte) (any, error)

// method is one entry of Kong's PDK method table.
type method struct {
	name    string // "kong.client.get_ip"
	rpc     string // "Client_GetIp", the proto rpc name
	in, out protoreflect.FullName
	fn      pdkFunc // nil: in the proto but not emulated here
	// live marks calls that read ngx.var / ngx.req of the live request;
	// in the log timer they raise "API disabled in the context of
	// ngx.timer" (plugin.lua's exposed_api overrides are not live).
	live bool
	// phases is where Kong's phase checker allows the call.
	phases phaseMask
}

// methods is Kong's table, keyed by method name; built once from the
// service descriptor go-pdk was generated from, as pb_rpc.lua's
// load_service builds it from pluginsocket.proto.
var methods = buildMethods()

// undeclared lists handlers for names the proto does not declare.
var undeclared []string

var camelSplit = regexp.MustCompile(`([a-z][0-9]*)([A-Z])`)

// methodName derives the wire name of an rpc the way load_service does:
// "Kong." + rpc, '_' to '.', a '_' before each capital following a
// lower-case letter (and digits), lower-cased; the MethodName option wins.
func methodName(rpc string, opts proto.Message) string {
	if opts != nil {
		if n, ok := proto.GetExtension(opts, kpp.E_MethodName).(string); ok && n != "" {
			return n
		}
	}
	s := strings.ReplaceAll("Kong."+rpc, "_", ".")
	return strings.ToLower(camelSplit.ReplaceAllString(s, "${1}_${2}"))
}

func buildMethods() map[string]*method {
	svc := kpp.File_server_kong_plugin_protocol_pluginsocket_proto.Services().ByName("Kong")
	if svc == nil {
		panic("kongpdk: go-pdk's pluginsocket.proto has no Kong service")
	}
	out := make(map[string]*method, svc.Methods().Len())
	for i := 0; i < svc.Methods().Len(); i++ {
		md := svc.Methods().Get(i)
		var opts proto.Message
		if o, ok := md.Options().(*descriptorpb.MethodOptions); ok {
			opts = o
		}
		m := &method{
			name:   methodName(string(md.Name()), opts),
			rpc:    string(md.Name()),
			in:     md.Input().FullName(),
			out:    md.Output().FullName(),
			phases: phAny,
		}
		out[m.name] = m
	}
	for name, h := range handlers() {
		m, ok := out[name]
		if !ok {
			undeclared = append(undeclared, name) // a test keeps this empty
			continue
		}
		m.fn, m.live, m.phases = h.fn, h.live, h.phases
	}
	return out
}

// handler is what a PDK namespace file registers for a method.
type handler struct {
	fn     pdkFunc
	live   bool
	phases phaseMask
}

// handlers gathers every emulated method.
func handlers() map[string]handler {
	all := map[string]handler{}
	for _, part := range []map[string]handler{
		clientHandlers(), requestHandlers(), nginxHandlers(), logHandlers(),
		ctxHandlers(), responseHandlers(), serviceHandlers(), serviceTargetHandlers(), miscHandlers(),
	} {
		for k, v := range part {
			if v.phases == 0 {
				v.phases = phAny
			}
			all[k] = v
		}
	}
	return all
}

// InternName returns name as a string without allocating when it is a
// method of the table (its own copy of the name); an unknown name is
// copied.
func InternName(name []byte) string {
	if m := methods[string(name)]; m != nil {
		return m.name
	}
	return string(name)
}
