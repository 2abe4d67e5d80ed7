// Command pdkprobe is a go-pdk plugin that runs a script of PDK calls
// given in its configuration (rewrite_ops, access_ops, log_ops) or, for
// access and rewrite, in the request headers X-Ops and X-Rewrite-Ops, and
// stores what each call returned, as a JSON list of strings, in
// kong.ctx.shared["results"].
//
// A script is ops separated by ';', each "op" or "op:arg" (arg "k=v" for
// two-argument calls). A result is the value printed with %v, or
// "ERR:<error>" when the call failed.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

// Config is the plugin configuration.
type Config struct {
	RewriteOps string `json:"rewrite_ops"`
	AccessOps  string `json:"access_ops"`
	LogOps     string `json:"log_ops"`
	Tag        string `json:"tag"`
}

// New returns a plugin instance's configuration.
func New() any { return &Config{} }

// Rewrite runs rewrite_ops, or the X-Rewrite-Ops request header when set.
func (c *Config) Rewrite(kong *pdk.PDK) {
	ops := c.RewriteOps
	if h, err := kong.Request.GetHeader("x-rewrite-ops"); err == nil && h != "" {
		ops = h
	}
	c.run(kong, ops)
}

// Access runs access_ops, or the X-Ops request header when set.
func (c *Config) Access(kong *pdk.PDK) {
	ops := c.AccessOps
	if h, err := kong.Request.GetHeader("x-ops"); err == nil && h != "" {
		ops = h
	}
	c.run(kong, ops)
}

// Log runs log_ops.
func (c *Config) Log(kong *pdk.PDK) { c.run(kong, c.LogOps) }

func (c *Config) run(kong *pdk.PDK, script string) {
	if script == "" {
		return
	}
	var results []string
	for _, op := range strings.Split(script, ";") {
		name, arg, _ := strings.Cut(op, ":")
		v, err := c.do(kong, name, arg)
		if err != nil {
			results = append(results, "ERR:"+err.Error())
			continue
		}
		results = append(results, fmt.Sprint(v))
	}
	b, _ := json.Marshal(results)
	_ = kong.Ctx.SetShared("results", string(b))
}

func (c *Config) do(kong *pdk.PDK, name, arg string) (any, error) {
	n, _ := strconv.Atoi(arg)
	switch name {
	case "tag":
		return c.Tag, nil
	case "env":
		return strings.Join(os.Environ(), ","), nil
	case "ip":
		return kong.Client.GetIp()
	case "fip":
		return kong.Client.GetForwardedIp()
	case "port":
		return kong.Client.GetPort()
	case "fport":
		return kong.Client.GetForwardedPort()
	case "trusted":
		return kong.IP.IsTrusted(arg)
	case "header":
		return kong.Request.GetHeader(arg)
	case "headers":
		h, err := kong.Request.GetHeaders(n)
		return sorted(h), err
	case "scheme":
		return kong.Request.GetScheme()
	case "host":
		return kong.Request.GetHost()
	case "rport":
		return kong.Request.GetPort()
	case "method":
		return kong.Request.GetMethod()
	case "path":
		return kong.Request.GetPath()
	case "pwq":
		return kong.Request.GetPathWithQuery()
	case "rawq":
		return kong.Request.GetRawQuery()
	case "httpv":
		return kong.Request.GetHttpVersion()
	case "qarg":
		return kong.Request.GetQueryArg(arg)
	case "query":
		q, err := kong.Request.GetQuery(n)
		return sorted(q), err
	case "fscheme":
		return kong.Request.GetForwardedScheme()
	case "fhost":
		return kong.Request.GetForwardedHost()
	case "rfport":
		return kong.Request.GetForwardedPort()
	}
	return doMore(kong, name, arg)
}

// doMore runs the nginx, log, ctx, service request, response, router and
// node operations.
func doMore(kong *pdk.PDK, name, arg string) (any, error) {
	k, v, _ := strings.Cut(arg, "=")
	n, _ := strconv.Atoi(arg)
	switch name {
	case "var":
		return kong.Nginx.GetVar(arg)
	case "setctx":
		return "ok", kong.Nginx.SetCtx(k, v)
	case "getctx":
		return kong.Nginx.GetCtxAny(arg)
	case "starttime":
		return kong.Nginx.ReqStartTime()
	case "subsystem":
		return kong.Nginx.GetSubsystem()
	case "log":
		return "ok", logAt(kong, k, v)
	case "ssv":
		return "ok", kong.Log.Ask("kong.log.set_serialize_value", &kpp.KV{K: k, V: structpb.NewStringValue(v)}, nil)
	case "ssvlist": // a list value, empty when v is ""
		l := &structpb.ListValue{}
		for _, e := range strings.Split(v, ",") {
			if e != "" {
				l.Values = append(l.Values, structpb.NewStringValue(e))
			}
		}
		return "ok", kong.Log.Ask("kong.log.set_serialize_value", &kpp.KV{K: k, V: structpb.NewListValue(l)}, nil)
	case "serialize":
		return kong.Log.Serialize()
	case "sset":
		return "ok", kong.Ctx.SetShared(k, v)
	case "sget":
		return kong.Ctx.GetSharedAny(arg)
	case "sreqset":
		return "ok", kong.ServiceRequest.SetHeader(k, v)
	case "sreqadd":
		return "ok", kong.ServiceRequest.AddHeader(k, v)
	case "probehdr": // kong.request.get_header(arg) into service header X-Probe-<arg>
		h, err := kong.Request.GetHeader(arg)
		if err != nil {
			return nil, err
		}
		if h == "" {
			h = "(none)"
		}
		return "ok", kong.ServiceRequest.SetHeader("X-Probe-"+arg, h)
	case "sreqclear":
		return "ok", kong.ServiceRequest.ClearHeader(arg)
	case "sreqsetheaders":
		return "ok", kong.ServiceRequest.SetHeaders(map[string][]string{k: strings.Split(v, ",")})
	case "sreqscheme":
		return "ok", kong.ServiceRequest.SetScheme(arg)
	case "sreqpath":
		return "ok", kong.ServiceRequest.SetPath(arg)
	case "sreqrawq":
		return "ok", kong.ServiceRequest.SetRawQuery(arg)
	case "sreqquery":
		return "ok", kong.ServiceRequest.SetQuery(map[string][]string{k: strings.Split(v, ","), "b": {"x y"}})
	case "sreqmethod":
		return "ok", kong.ServiceRequest.SetMethod(arg)
	case "sreqbody":
		return "ok", kong.ServiceRequest.SetRawBody(arg)
	case "rset":
		return "ok", kong.Response.SetHeader(k, v)
	case "radd":
		return "ok", kong.Response.AddHeader(k, v)
	case "rclear":
		return "ok", kong.Response.ClearHeader(arg)
	case "rstatus":
		return kong.Response.GetStatus()
	case "rheader":
		return kong.Response.GetHeader(arg)
	case "rsource":
		return kong.Response.GetSource()
	case "route":
		r, err := kong.Router.GetRoute()
		return r.Id + "/" + r.Name, err
	case "service":
		s, err := kong.Router.GetService()
		return s.Id + "/" + s.Name, err
	case "nodeid":
		return kong.Node.GetId()
	case "exit":
		kong.Response.Exit(n0(k), []byte(v), map[string][]string{"X-Exit": {"yes"}})
		return "exited", nil
	case "rheaders":
		h, err := kong.Response.GetHeaders(n)
		return sorted(h), err
	case "rsetheaders":
		return "ok", kong.Response.SetHeaders(map[string][]string{k: strings.Split(v, ",")})
	case "rsetstatus":
		return "ok", kong.Response.SetStatus(n)
	case "body":
		b, err := kong.Request.GetRawBody()
		return string(b), err
	case "captures":
		u, m, err := kong.Request.GetUriCaptures()
		return fmt.Sprint(len(u), len(m)), err
	case "consumer":
		c, err := kong.Client.GetConsumer()
		return c.Id, err
	case "protocol":
		return kong.Client.GetProtocol(true)
	case "tls":
		return kong.Nginx.GetTLS1VersionStr()
	case "memstats":
		_, err := kong.Node.GetMemoryStats()
		return "ok", err
	case "upstream":
		return "ok", kong.Service.SetUpstream(arg)
	case "target":
		return "ok", kong.Service.SetTarget(k, n0(v))
	case "raw":
		return kong.Log.AskString(arg, nil)
	}
	return nil, fmt.Errorf("unknown op %q", name)
}

func logAt(kong *pdk.PDK, level, msg string) error {
	switch level {
	case "alert":
		return kong.Log.Alert(msg, 1, true)
	case "crit":
		return kong.Log.Crit(msg)
	case "err":
		return kong.Log.Err(msg)
	case "warn":
		return kong.Log.Warn(msg)
	case "notice":
		return kong.Log.Notice(msg)
	case "info":
		return kong.Log.Info(msg)
	}
	return kong.Log.Debug(msg)
}

func n0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// sorted renders a multi-map deterministically.
func sorted(m map[string][]string) string {
	b, _ := json.Marshal(m) // encoding/json sorts map keys
	return string(b)
}

func main() { _ = server.StartServer(New, "0.1.0", 1000) }
