package gateway

import (
	"fmt"
	"os"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// LoadHTTPInclude reads the file kong.conf's nginx_http_include names, as
// nginx reads it into Kong's http block when Kong starts
// (kong/templates/nginx_kong.lua:42-44 at 3.9.3), and returns its map
// variables for kong.nginx.get_var. What nginx would refuse to start with
// is an error naming the file and line; so is what pdkserver does not
// model: anything but map blocks (nginxvar.ParseMaps), a map that is not
// volatile, a variable other than those kongpdk.MapVariable serves, and a
// wildcard include (nginx globs "*?[", ngx_conf_include,
// src/core/ngx_conf_file.c:837 at release-1.25.3).
func LoadHTTPInclude(path string) ([]nginxvar.Map, error) {
	if strings.ContainsAny(path, "*?[") {
		return nil, fmt.Errorf("%s: a wildcard include is not modelled", path)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		// nginx: open() "<path>" failed (2: No such file or directory)
		return nil, fmt.Errorf("open() %q failed: %w", path, err)
	}
	maps, err := nginxvar.ParseMaps(path, text, kongpdk.MapVariable)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		if !m.Volatile {
			// Without volatile nginx caches the value for the request when
			// the variable is indexed (ngx_http_get_flushed_variable,
			// src/http/ngx_http_variables.c:659-675) and not otherwise;
			// pdkserver does not model which.
			return nil, fmt.Errorf("map $%s is not volatile: only volatile maps are modelled (the form kongconf generate --fast-path writes) in %s:%d", m.Name, m.File, m.Line)
		}
	}
	return maps, nil
}
