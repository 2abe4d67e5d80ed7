// Package nodeconf models the parts of a Kong node's configuration
// (kong.conf plus KONG_* environment variables) that decide the client
// address and load Go plugins, resolved the way Kong's configuration loader
// resolves them.
//
// Resolution rules reproduced here, each from Kong's loader:
//   - kong.conf lines are "key = value", read as ReadLines describes
//     (Penlight's config.read plus Kong's comment stripping).
//   - Environment variables override the file: KONG_<KEY> with the key
//     upper-cased. Kong looks them up by that exact name, so a variable
//     spelled with lower-case letters is never seen.
//   - real_ip_header and real_ip_recursive are aliases: they set
//     nginx_proxy_real_ip_header/_recursive only when the user did not set
//     those directly (file or environment). An explicit nginx_proxy_* key
//     therefore wins over the alias, even an alias from the environment over
//     a directive in the file.
//   - "NONE" and empty values mean unset.
//   - nginx_http_<directive> keys are rendered into nginx's http block and
//     nginx_proxy_<directive> keys into the proxy server block, so for the
//     header buffer directives the nginx_proxy_* key wins over the
//     nginx_http_* one, each directive on its own; without either, nginx's
//     default applies (Kong's template sets neither).
package nodeconf

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// PluginServer is one pluginserver_names entry with its settings resolved.
type PluginServer struct {
	// Name is the plugin server name, lower-cased as Kong does.
	Name string
	// Socket is the Unix socket Kong dials.
	Socket string
	// StartCmd starts the server; empty means Kong assumes the process is
	// managed externally.
	StartCmd string
	// QueryCmd prints the plugins' schemas (the "-dump" command).
	QueryCmd string
}

// Conf is the resolved node configuration.
type Conf struct {
	// ProxyListen holds the parsed proxy_listen entries (empty for "off").
	ProxyListen []Listener
	// TrustedIPs holds the trusted_ips entries (each rendered by Kong as a
	// set_real_ip_from line).
	TrustedIPs []string
	// RealIPHeader is the real_ip_header nginx gets.
	RealIPHeader string
	// RealIPRecursive is the real_ip_recursive nginx gets.
	RealIPRecursive bool
	// Plugins is the plugins list ("bundled" kept as written).
	Plugins []string
	// PluginServers are the configured Go/JS/Python plugin servers.
	PluginServers []PluginServer
	// Prefix is Kong's prefix directory, cleaned.
	Prefix string
	// DeclarativeConfig is the declarative_config path ("" when unset).
	DeclarativeConfig string
	// Database is the database setting ("postgres", "off", ...).
	Database string
	// ClientHeaderBufferSize is nginx's client_header_buffer_size in bytes
	// for the proxy server: nginx_proxy_client_header_buffer_size, else
	// nginx_http_client_header_buffer_size, else nginx's 1k.
	ClientHeaderBufferSize int
	// LargeClientHeaderBuffers is nginx's large_client_header_buffers for
	// the proxy server: nginx_proxy_large_client_header_buffers, else
	// nginx_http_large_client_header_buffers, else nginx's "4 8k".
	LargeClientHeaderBuffers HeaderBuffers
	// HTTPInclude is the file nginx_http_include names, as an absolute
	// path ("" when unset). Kong renders the key as "include <value>;" in
	// the http block of nginx-kong.conf (kong/templates/nginx_kong.lua:42-44
	// at 3.9.3; the value verbatim, kong/conf_loader/parse.lua:944-962) and
	// starts nginx with "-p <prefix> -c nginx.conf"
	// (kong/cmd/utils/nginx_signals.lua:169), so nginx's conf prefix is
	// Kong's prefix (nginx src/core/nginx.c:1057-1070 at release-1.25.3)
	// and a relative path is read from there (ngx_conf_include,
	// src/core/ngx_conf_file.c:833).
	HTTPInclude string
	// Raw holds every key the user set, as finally resolved (file, then
	// environment). Unknown keys are kept. Defaults are not included.
	Raw map[string]string
	// Sources says where each Raw key came from: "file:LINE" (1-based; the
	// first line of a continued line) or "env:KONG_X".
	Sources map[string]string
	// File is the kong.conf the "file:" sources refer to ("" when none was
	// named).
	File string
}

// HeaderBuffers is an nginx "number size" buffers value, such as
// large_client_header_buffers' "4 8k".
type HeaderBuffers struct {
	// Num is the number of buffers.
	Num int
	// Size is the size of each buffer in bytes.
	Size int
}

// nginx's defaults for the header buffer directives, which Kong's template
// does not set (ngx_http_core_module.c), and the connection_pool_size
// default (64 pointers) large_client_header_buffers' size may not be
// below.
const (
	// DefaultClientHeaderBufferSize is client_header_buffer_size's default.
	DefaultClientHeaderBufferSize = 1024
	// DefaultLargeClientHeaderBuffersNum is large_client_header_buffers'
	// default number of buffers.
	DefaultLargeClientHeaderBuffersNum = 4
	// DefaultLargeClientHeaderBuffersSize is large_client_header_buffers'
	// default buffer size.
	DefaultLargeClientHeaderBuffersSize = 8192
	// DefaultConnectionPoolSize is connection_pool_size's default on 64-bit
	// platforms.
	DefaultConnectionPoolSize = 512
)

// Kong 3.x defaults for the keys modelled here (kong_defaults.lua).
const (
	// DefaultProxyListen is proxy_listen's default value.
	DefaultProxyListen = "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384"
	// DefaultRealIPHeader is real_ip_header's default value.
	DefaultRealIPHeader = "X-Real-IP"
	// DefaultPrefix is prefix's default value, as Kong normalises it.
	DefaultPrefix = "/usr/local/kong"
	// DefaultPluginServerPath is where Kong looks for a plugin server binary
	// named after the server when start_cmd/query_cmd are unset.
	DefaultPluginServerPath = "/usr/local/bin"
)

// Defaults returns Kong 3.x's defaults for the modelled keys.
func Defaults() *Conf {
	ls, err := ParseListen(DefaultProxyListen)
	if err != nil {
		panic(err) // the constant is known to be valid
	}
	return &Conf{
		ProxyListen:  ls,
		TrustedIPs:   nil,
		RealIPHeader: DefaultRealIPHeader,
		Plugins:      []string{"bundled"},
		Prefix:       DefaultPrefix,
		Database:     "postgres",
		Raw:          map[string]string{},
		Sources:      map[string]string{},

		ClientHeaderBufferSize: DefaultClientHeaderBufferSize,
		LargeClientHeaderBuffers: HeaderBuffers{
			Num:  DefaultLargeClientHeaderBuffersNum,
			Size: DefaultLargeClientHeaderBuffersSize,
		},
	}
}

// Parse reads kong.conf text and resolves it over the defaults. name is used
// in error messages and Sources ("" for none).
func Parse(r io.Reader, name string) (*Conf, error) {
	raw, src, err := readFile(r, name)
	if err != nil {
		return nil, err
	}
	return resolveFile(raw, src, name)
}

// Load reads the kong.conf at path (none when path is "") and applies the
// KONG_* variables in environ (os.Environ form) over it, as Kong does.
func Load(path string, environ []string) (*Conf, error) {
	raw, src := map[string]string{}, map[string]string{}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("could not load config file %s: %w", path, err)
		}
		defer f.Close()
		raw, src, err = readFile(f, path)
		if err != nil {
			return nil, err
		}
	}
	applyEnv(raw, src, environ)
	return resolveFile(raw, src, path)
}

// resolveFile resolves raw, read from file.
func resolveFile(raw, src map[string]string, file string) (*Conf, error) {
	return resolve(raw, src, file, fileExists)
}

// Where says where the user set key: "FILE:LINE" for kong.conf (FILE
// "kong.conf" when unnamed), "env:KONG_X" for the environment, "" when the
// key is not set.
func (c *Conf) Where(key string) string {
	s := c.Sources[key]
	if line, ok := strings.CutPrefix(s, "file:"); ok {
		return displayName(c.File) + ":" + line
	}
	return s
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// readFile parses kong.conf syntax into key -> value, keeping the last
// assignment of a key.
func readFile(r io.Reader, name string) (map[string]string, map[string]string, error) {
	raw, src := map[string]string{}, map[string]string{}
	lines, err := ReadLines(r)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", displayName(name), err)
	}
	for _, l := range lines {
		where := fmt.Sprintf("%s:%d", displayName(name), l.Line)
		switch {
		case l.Section:
			return nil, nil, fmt.Errorf("%s: section header %q is not kong.conf syntax", where, l.Text)
		case !l.Assign:
			// Kong's reader files it as an anonymous list item no setting reads.
		case l.Key == "":
			return nil, nil, fmt.Errorf("%s: empty key in %q", where, l.Text)
		default:
			raw[l.Key] = l.Value
			src[l.Key] = sourceName(name, l.Line)
		}
	}
	return raw, src, nil
}

func displayName(name string) string {
	if name == "" {
		return "kong.conf"
	}
	return name
}

// sourceName is the Sources entry for a file line. The file name is not
// part of it: a Conf comes from at most one file.
func sourceName(_ string, line int) string {
	return fmt.Sprintf("file:%d", line)
}

// applyEnv overrides raw with KONG_* variables. Later duplicates in environ
// win, as with getenv on a process environment built from it.
func applyEnv(raw, src map[string]string, environ []string) {
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "KONG_") || len(name) == len("KONG_") {
			continue
		}
		rest := name[len("KONG_"):]
		if rest != strings.ToUpper(rest) {
			// Kong reads KONG_<UPPER(key)> only.
			continue
		}
		key := strings.ToLower(rest)
		raw[key] = strings.TrimSpace(val)
		src[key] = "env:" + name
	}
}

// AliasKey returns the key that decides an aliased setting (real_ip_header
// or real_ip_recursive): the nginx_proxy_<alias> directive when the user set
// it (isSet: set, and neither empty nor NONE), otherwise the alias itself.
func AliasKey(alias string, isSet func(key string) bool) string {
	if k := "nginx_proxy_" + alias; isSet(k) {
		return k
	}
	return alias
}

// Unset reports whether a value means "not set" to Kong: empty or NONE.
func Unset(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || v == "NONE"
}

// value returns the user's setting for key, treating "NONE" and "" as
// unset.
func value(raw map[string]string, key string) (string, bool) {
	v, ok := raw[key]
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	if v == "" || v == "NONE" {
		return "", false
	}
	return v, true
}

// splitList splits a Kong array value: comma-separated, blanks trimmed,
// empty items dropped.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func resolve(raw, src map[string]string, file string, exists func(string) bool) (*Conf, error) {
	c := Defaults()
	c.Raw, c.Sources, c.File = raw, src, file

	where := func(key string) string {
		if w := c.Where(key); w != "" {
			return " (" + w + ")"
		}
		return ""
	}

	if v, ok := raw["proxy_listen"]; ok {
		ls, err := ParseListen(v)
		if err != nil {
			return nil, fmt.Errorf("%v%s", err, where("proxy_listen"))
		}
		c.ProxyListen = ls
	}

	if v, ok := value(raw, "trusted_ips"); ok {
		c.TrustedIPs = splitList(v)
		for _, e := range c.TrustedIPs {
			if err := checkTrusted(e); err != nil {
				return nil, fmt.Errorf("%v%s", err, where("trusted_ips"))
			}
		}
	}

	isSet := func(k string) bool { _, ok := value(raw, k); return ok }
	hdrKey := AliasKey("real_ip_header", isSet)
	if v, ok := value(raw, hdrKey); ok {
		if strings.ContainsAny(v, " \t;{}\"'") {
			return nil, fmt.Errorf("%s %q is not a header name%s", hdrKey, v, where(hdrKey))
		}
		c.RealIPHeader = v
	}
	recKey := AliasKey("real_ip_recursive", isSet)
	if v, ok := value(raw, recKey); ok {
		switch v {
		case "on":
			c.RealIPRecursive = true
		case "off":
			c.RealIPRecursive = false
		default:
			return nil, fmt.Errorf("%s must be on or off, got %q%s", recKey, v, where(recKey))
		}
	}

	if v, ok := value(raw, "plugins"); ok {
		c.Plugins = splitList(v)
	} else if _, set := raw["plugins"]; set {
		c.Plugins = nil
	}
	if v, ok := value(raw, "prefix"); ok {
		if filepath.IsAbs(v) {
			c.Prefix = filepath.Clean(v)
		} else if abs, err := filepath.Abs(v); err == nil {
			c.Prefix = abs
		} else {
			return nil, fmt.Errorf("prefix %q: %v%s", v, err, where("prefix"))
		}
	}
	if v, ok := value(raw, "declarative_config"); ok {
		c.DeclarativeConfig = v
	}
	if v, ok := value(raw, "database"); ok {
		switch v {
		case "postgres", "cassandra", "off":
		default:
			return nil, fmt.Errorf("database has an invalid value: %q (postgres, cassandra, off)%s", v, where("database"))
		}
		c.Database = v
	}

	if v, ok := value(raw, "nginx_http_include"); ok {
		if !filepath.IsAbs(v) {
			v = filepath.Join(c.Prefix, v)
		}
		c.HTTPInclude = filepath.Clean(v)
	}

	if err := resolveHeaderBuffers(c, raw, where); err != nil {
		return nil, err
	}

	if v, ok := value(raw, "pluginserver_names"); ok {
		for _, n := range splitList(v) {
			ps, err := pluginServer(c, strings.ToLower(n), exists)
			if err != nil {
				return nil, err
			}
			c.PluginServers = append(c.PluginServers, ps)
		}
	}
	return c, nil
}

// HeaderNameRules returns underscores_in_headers and ignore_invalid_headers
// as nginx applies them to the proxy server's requests (the proxy server is
// the default server of its listeners, whose settings nginx reads header
// lines with). Kong's template sets underscores_in_headers on in the http
// block (kong/templates/nginx_kong.lua:30 at 3.9.3);
// nginx_proxy_underscores_in_headers sets it in the proxy server
// (:134-137). ignore_invalid_headers keeps nginx's default, on, unless
// nginx_proxy_ or nginx_http_ignore_invalid_headers sets it. The error is
// what nginx refuses to start with: nginx_http_underscores_in_headers adds
// a second directive to the http block (:42-44), and a flag must be on or
// off (ngx_conf_set_flag_slot). Parse does not check these, so that lint
// reports them as its own findings.
func (c *Conf) HeaderNameRules() (underscores, ignoreInvalid bool, err error) {
	where := func(key string) string {
		if w := c.Where(key); w != "" {
			return " (" + w + ")"
		}
		return ""
	}
	if _, ok := value(c.Raw, "nginx_http_underscores_in_headers"); ok {
		return false, false, fmt.Errorf(`nginx_http_underscores_in_headers: "underscores_in_headers" directive is duplicate: Kong's template sets it in the http block (kong/templates/nginx_kong.lua:30); use nginx_proxy_underscores_in_headers%s`, where("nginx_http_underscores_in_headers"))
	}
	flag := func(key string, def bool) (bool, error) {
		v, ok := value(c.Raw, key)
		switch {
		case !ok:
			return def, nil
		case v == "on":
			return true, nil
		case v == "off":
			return false, nil
		}
		return false, fmt.Errorf(`%s: invalid value %q, it must be "on" or "off"%s`, key, v, where(key))
	}
	if underscores, err = flag("nginx_proxy_underscores_in_headers", true); err != nil {
		return false, false, err
	}
	ignoreInvalid = true
	if k := nginxKey(c.Raw, "ignore_invalid_headers"); k != "" {
		if ignoreInvalid, err = flag(k, true); err != nil {
			return false, false, err
		}
	}
	return underscores, ignoreInvalid, nil
}

// nginxKey returns the kong.conf key that sets an nginx directive for the
// proxy server: nginx_proxy_<directive> when set, else
// nginx_http_<directive> when set, else "".
func nginxKey(raw map[string]string, directive string) string {
	for _, k := range []string{"nginx_proxy_" + directive, "nginx_http_" + directive} {
		if _, ok := value(raw, k); ok {
			return k
		}
	}
	return ""
}

// resolveHeaderBuffers sets the header buffer sizes from the
// nginx_proxy_/nginx_http_ keys, refusing what nginx would refuse to
// start with.
func resolveHeaderBuffers(c *Conf, raw map[string]string, where func(string) string) error {
	if k := nginxKey(raw, "client_header_buffer_size"); k != "" {
		v, _ := value(raw, k)
		n, ok := parseNginxSize(v)
		if !ok || n == 0 {
			return fmt.Errorf("%s must be a size greater than 0 such as 1024, 1k or 1m, got %q%s", k, v, where(k))
		}
		c.ClientHeaderBufferSize = n
	}
	if k := nginxKey(raw, "large_client_header_buffers"); k != "" {
		v, _ := value(raw, k)
		f := strings.Fields(v)
		var num, size int
		ok := len(f) == 2
		if ok {
			num, ok = parseNginxSize(f[0])
			ok = ok && num > 0 && !strings.ContainsAny(f[0], "kKmM")
		}
		if ok {
			size, ok = parseNginxSize(f[1])
			ok = ok && size > 0
		}
		if !ok {
			return fmt.Errorf("%s must be a number of buffers and a size greater than 0 such as \"4 8k\", got %q%s", k, v, where(k))
		}
		// nginx refuses to start otherwise (ngx_http_core_merge_srv_conf).
		pool, poolKey := DefaultConnectionPoolSize, nginxKey(raw, "connection_pool_size")
		if poolKey != "" {
			pv, _ := value(raw, poolKey)
			if p, ok := parseNginxSize(pv); ok {
				pool = p
			}
		}
		if size < pool {
			return fmt.Errorf("%s: the size must be equal to or greater than connection_pool_size (%d), got %q%s", k, pool, v, where(k))
		}
		c.LargeClientHeaderBuffers = HeaderBuffers{Num: num, Size: size}
	}
	return nil
}

// parseNginxSize reads nginx's size syntax (ngx_parse_size): decimal
// digits, optionally followed by k or m (either case) for KiB or MiB.
func parseNginxSize(v string) (int, bool) {
	scale := 1
	switch {
	case strings.HasSuffix(v, "k"), strings.HasSuffix(v, "K"):
		scale, v = 1<<10, v[:len(v)-1]
	case strings.HasSuffix(v, "m"), strings.HasSuffix(v, "M"):
		scale, v = 1<<20, v[:len(v)-1]
	}
	if v == "" {
		return 0, false
	}
	n := 0
	for _, ch := range []byte(v) {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := int(ch - '0')
		if n > (math.MaxInt-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if n > math.MaxInt/scale {
		return 0, false
	}
	return n * scale, true
}

// checkTrusted applies Kong's trusted_ips rule: an IP, a CIDR or "unix:".
func checkTrusted(e string) error {
	if e == "unix:" {
		return nil
	}
	if _, _, err := realip.ParseTrusted([]string{e}); err != nil || strings.HasPrefix(e, "unix:") {
		return fmt.Errorf("trusted_ips must be a comma separated list in the form of IPv4 or IPv6 address or CIDR block or 'unix:', got '%s'", e)
	}
	return nil
}

// pluginServer resolves one plugin server's settings with Kong 3.9+'s
// defaults: socket <prefix>/<name>.socket; start and query commands from
// /usr/local/bin/<name> when that file exists; no query command is an error.
func pluginServer(c *Conf, name string, exists func(string) bool) (PluginServer, error) {
	keyPrefix := "pluginserver_" + strings.ReplaceAll(name, "-", "_")
	ps := PluginServer{Name: name}
	if v, ok := value(c.Raw, keyPrefix+"_socket"); ok {
		ps.Socket = v
	} else {
		ps.Socket = c.Prefix + "/" + name + ".socket"
	}
	ps.StartCmd, _ = value(c.Raw, keyPrefix+"_start_cmd")
	ps.QueryCmd, _ = value(c.Raw, keyPrefix+"_query_cmd")
	bin := DefaultPluginServerPath + "/" + name
	if exists(bin) {
		if ps.StartCmd == "" {
			ps.StartCmd = bin
		}
		if ps.QueryCmd == "" {
			ps.QueryCmd = bin + " -dump"
		}
	}
	if ps.QueryCmd == "" {
		return PluginServer{}, fmt.Errorf("%s_query_cmd is unset and %s does not exist: query_command undefined for pluginserver %s", keyPrefix, bin, name)
	}
	return ps, nil
}
