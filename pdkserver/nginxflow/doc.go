// Package nginxflow holds a differential test of pdkserver's request flow
// against Debian's nginx with lua-nginx-module, configured like Kong
// 3.9.3's template (kong/templates/nginx_kong.lua) with a short Lua
// stand-in for Kong's access.before X-Forwarded-For and for a plugin's
// kong.service.request / kong.request.get_header calls
// (testdata/standin.lua). Both send the same raw requests to one recording
// upstream; the test compares what it received. There is no non-test code.
package nginxflow
