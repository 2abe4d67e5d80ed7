// Package nginxflow holds differential tests of pdkserver against Debian's
// nginx. There is no non-test code.
//
// TestUpstreamHeadersMatchNginx compares pdkserver's request flow with
// nginx and lua-nginx-module configured like Kong 3.9.3's template
// (kong/templates/nginx_kong.lua), with a short Lua stand-in for Kong's
// access.before X-Forwarded-For and for a plugin's kong.service.request /
// kong.request.get_header calls (testdata/standin.lua). Both send the same
// raw requests to one recording upstream; the test compares what it
// received.
//
// TestFastPathAgainstNginx loads the fast path's include
// (plugin/fastpath.Include) into nginx, as Kong's nginx_http_include does,
// and compares $client_ip_guard_facts with internal/nginxvar's rendering,
// then the fast path's judgement with the full path's.
package nginxflow
