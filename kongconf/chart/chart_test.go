package chart

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		chart, release, svc, app, image string
	}{
		{Kong, "kong", "kong-kong-proxy", "kong", "image"},
		{Kong, "edge", "edge-kong-proxy", "kong", "image"},
		{Ingress, "kong", "kong-gateway-proxy", "gateway", "gateway.image"},
		{Ingress, "edge", "edge-gateway-proxy", "gateway", "gateway.image"},
	} {
		s, err := Lookup(tc.chart)
		require.NoError(t, err)
		assert.Equal(t, tc.svc, s.ProxyService(tc.release))
		assert.Equal(t, map[string]string{LabelName: tc.app, LabelComponent: "app", LabelInstance: tc.release}, s.Selector(tc.release))
		assert.Equal(t, tc.image, s.ValuesPath("image"))
	}
	_, err := Lookup("kong-operator")
	assert.ErrorContains(t, err, "must be kong or ingress")
	// Helm truncates the fullname to 63 characters and trims a trailing '-'.
	s, _ := Lookup(Kong)
	long := strings.Repeat("a", 58) + "-b"
	assert.Equal(t, strings.Repeat("a", 58)+"-b-ko", s.Fullname(long))
	assert.Len(t, s.Fullname(strings.Repeat("a", 62)+"-"), 62)
}

func TestCheckRelease(t *testing.T) {
	assert.NoError(t, CheckRelease("kong"))
	assert.NoError(t, CheckRelease("edge-1"))
	for _, bad := range []string{"", "Kong", "-kong", "kong_1", strings.Repeat("a", 54)} {
		assert.Error(t, CheckRelease(bad), bad)
	}
}

func TestParseImage(t *testing.T) {
	r, tag, err := ParseImage("registry.example.com:5000/team/kong-cig:3.9.1")
	require.NoError(t, err)
	assert.Equal(t, "registry.example.com:5000/team/kong-cig", r)
	assert.Equal(t, "3.9.1", tag)
	r, tag, err = ParseImage("example.com/kong-cig@sha256:abc")
	require.NoError(t, err)
	assert.Equal(t, "example.com/kong-cig", r)
	assert.Equal(t, "@sha256:abc", tag)
	for _, bad := range []string{"kong", "registry.example.com:5000/kong", "kong:", ":3.9"} {
		_, _, err := ParseImage(bad)
		assert.ErrorContains(t, err, "must be REPO:TAG", bad)
	}
	assert.True(t, IsChartDefault("kong"))
	assert.True(t, IsChartDefault("docker.io/library/kong"))
	assert.True(t, IsChartDefault("kong/kong-gateway"))
	assert.False(t, IsChartDefault("example.com/kong-cig"))
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		constraint, lowest    string
		olderThanPreInstalled bool
	}{
		{"=2.46.0", "2.46.0", true},
		{"2.47.0", "2.47.0", false},
		{"~2.46.1", "2.46.1", true},
		{"^2.40", "2.40", true},
		{">= 2.48.0, < 3.0.0", "2.48.0", false},
		{"< 3.0.0", "", false},
		{"3.4.1", "3.4.1", false},
	} {
		assert.Equal(t, tc.lowest, LowestAllowed(tc.constraint), tc.constraint)
		assert.Equal(t, tc.olderThanPreInstalled, OlderThan(LowestAllowed(tc.constraint), MinVersion(Kong, KeyPreInstalled)), tc.constraint)
	}
	assert.True(t, OlderThan("0.17.0", MinVersion(Ingress, KeyPreInstalled)))
	assert.False(t, OlderThan("0.24.0", MinVersion(Ingress, KeyNameOverride)))
	assert.False(t, OlderThan("garbage", "2.47.0"))
	assert.Equal(t, "", MinVersion(Kong, "image.repository"))
}
