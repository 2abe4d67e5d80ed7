package kongyml

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseResolvesScopes(t *testing.T) {
	f, err := Parse([]byte(`
_format_version: "3.0"
_transform: true
plugins:
- name: g
  config: {a: 1}
- name: s
  service: echo
- name: r
  route: {name: top}
services:
- name: echo
  url: https://upstream.test:8443/base
  routes:
  - name: nested
    paths: [/a, /b]
    strip_path: false
    plugins: [{name: r}]
  plugins: [{name: g, enabled: false}]
- name: other
  host: other.test
routes:
- name: top
  service: other
  paths: [/top]
  preserve_host: true
`))
	require.NoError(t, err)
	require.Len(t, f.Services, 2)
	echo, other := f.Services[0], f.Services[1]
	assert.Equal(t, "https://upstream.test:8443/base", echo.URL)
	assert.Equal(t, 8443, echo.Port)
	assert.Equal(t, "/base", echo.Path)
	assert.Equal(t, 80, other.Port)
	assert.Equal(t, "http", other.Protocol)

	require.Len(t, f.Routes, 2)
	nested, top := f.Routes[0], f.Routes[1]
	assert.Same(t, echo, nested.Service)
	assert.False(t, nested.StripPath)
	assert.Same(t, other, top.Service)
	assert.True(t, top.StripPath, "strip_path defaults to true, as in Kong")
	assert.True(t, top.PreserveHost)
	assert.Equal(t, []string{"http", "https"}, top.Protocols)

	scopes := map[string]string{}
	for _, p := range f.Plugins {
		scopes[p.Scope()+"/"+p.Name] = p.ID
		assert.Len(t, p.ID, 36)
	}
	assert.Contains(t, scopes, "global/g")
	assert.Contains(t, scopes, "service echo/s")
	assert.Contains(t, scopes, "route top/r")
	assert.Contains(t, scopes, "route nested/r")
	assert.Contains(t, scopes, "service echo/g")
	for _, p := range f.Plugins {
		if p.Scope() == "service echo" && p.Name == "g" {
			assert.False(t, p.Enabled)
		}
	}

	// Ids are stable across parses of the same file.
	again, err := Parse([]byte(`{_format_version: "3.0", services: [{name: echo, url: "http://x", routes: [{name: nested, paths: [/a]}]}]}`))
	require.NoError(t, err)
	assert.Equal(t, nested.ID, again.Routes[0].ID)
	assert.Equal(t, echo.ID, again.Services[0].ID)
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yml, want string }{
		{"empty", ``, "empty"},
		{"not yaml", "a: [", "not valid YAML"},
		{"no version", `services: []`, "_format_version is missing"},
		{"old version", `_format_version: "1.1"`, `"1.1" is not supported`},
		{"unknown entity", `{_format_version: "3.0", consumers: []}`, `unknown or unsupported key "consumers"`},
		{"unknown route key", `{_format_version: "3.0", services: [{name: a, url: "http://x", routes: [{paths: [/], hosts: [x]}]}]}`, `"hosts"`},
		{"wrong type", `{_format_version: "3.0", services: [{name: a, url: "http://x", port: "80"}]}`, "wrong type"},
		{"bad scheme", `{_format_version: "3.0", services: [{name: a, url: "tcp://x:1"}]}`, "scheme must be http or https"},
		{"url and host", `{_format_version: "3.0", services: [{name: a, url: "http://x", host: other}]}`, "cannot be combined"},
		{"no host", `{_format_version: "3.0", services: [{name: a}]}`, "needs a url"},
		{"bad port", `{_format_version: "3.0", services: [{name: a, url: "http://x:99999"}]}`, "port"},
		{"route without paths", `{_format_version: "3.0", services: [{name: a, url: "http://x", routes: [{name: r}]}]}`, "needs paths"},
		{"regex path", `{_format_version: "3.0", services: [{name: a, url: "http://x", routes: [{paths: ["~/x$"]}]}]}`, "regex path"},
		{"relative path", `{_format_version: "3.0", services: [{name: a, url: "http://x", routes: [{paths: [x]}]}]}`, "must start with /"},
		{"dangling service", `{_format_version: "3.0", routes: [{name: r, service: nope, paths: [/]}]}`, `service "nope" is not defined`},
		{"top route without service", `{_format_version: "3.0", routes: [{name: r, paths: [/]}]}`, "needs service"},
		{"dangling plugin route", `{_format_version: "3.0", plugins: [{name: p, route: nope}]}`, `route "nope" is not defined`},
		{"plugin without name", `{_format_version: "3.0", plugins: [{config: {}}]}`, "needs a name"},
		{"consumer plugin", `{_format_version: "3.0", plugins: [{name: p, consumer: c}]}`, "consumer-scoped"},
		{"duplicate plugin", `{_format_version: "3.0", plugins: [{name: p}, {name: p}]}`, "configured twice"},
		{"duplicate service", `{_format_version: "3.0", services: [{name: a, url: "http://x"}, {name: a, url: "http://y"}]}`, "used twice"},
		{"duplicate id", `{_format_version: "3.0", services: [{id: x, name: a, url: "http://x"}, {id: x, name: b, url: "http://y"}]}`, "already used"},
		{"grpc route", `{_format_version: "3.0", services: [{name: a, url: "http://x", routes: [{paths: [/], protocols: [grpc]}]}]}`, "http and https only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadRepoKongYML(t *testing.T) {
	f, err := Load("../../kong.yml")
	require.NoError(t, err)
	assert.NotEmpty(t, f.Routes)
	_, err = Load("does-not-exist.yml")
	require.Error(t, err)
	assert.True(t, os.IsNotExist(errUnwrapAll(err)))
}

func errUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
